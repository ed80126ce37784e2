"""The records of the domain: who a client is, what it runs, and its attendance sessions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum


class Role(StrEnum):
    ATTENDEE = "attendee"
    HOST = "host"
    ANALYST = "analyst"
    ADMIN = "admin"


class SessionType(StrEnum):
    LIVE = "live"
    ON_DEMAND = "on_demand"


class ExitReason(StrEnum):
    LEAVE = "leave"
    DISCONNECT = "disconnect"
    SWITCHED = "switched"
    DEVICE_LIMIT = "device_limit"
    BREAKOUT_ENDED = "breakout_ended"
    NODE_LOST = "node_lost"
    SHUTDOWN = "shutdown"


class ActivityState(StrEnum):
    """What a viewer's client says it is doing (README "Engagement")."""

    VISIBLE = "visible"  # the page is in front (and no stream plays, or none is paused)
    HIDDEN = "hidden"  # the tab or app is in the background
    PLAYING = "playing"  # the stream plays in a visible page
    PAUSED = "paused"  # the stream is paused
    IDLE = "idle"  # no input for a while, the stream not playing


# Time in these states is the user's active time.
ACTIVE_STATES = frozenset({ActivityState.VISIBLE, ActivityState.PLAYING})


def now_ms() -> datetime:
    """The current UTC time cut to milliseconds, the precision of the wire format.

    Cutting before storing makes the timestamp in an ack equal to the one in the database.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection or request is, taken only from its verified token."""

    user_id: str
    name: str
    org_id: str
    role: Role
    # The token's exp plus the clock-skew leeway: no new join is accepted after it.
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a client is and what it runs, as stored with each of its sessions."""

    ip: str | None = None
    city: str | None = None
    region: str | None = None
    country_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    browser: str | None = None
    browser_version: str | None = None
    os: str | None = None
    os_version: str | None = None
    device_type: str | None = None
    user_agent: str | None = None


def org_place(org_id: str, place_id: str) -> str:
    """A breakout or school named among every organisation's (ids are unique only within an
    org): live presence, Socket.IO rooms and rollups key it so. (`/` is in neither an org id
    nor a breakout or school id.)"""
    return f"{org_id}/{place_id}"


def ids_of_place(place: str) -> tuple[str, str]:
    """The org id and the breakout or school id that a place names."""
    org_id, _, place_id = place.partition("/")
    return org_id, place_id


# ClientInfo's fields in order: the columns of a session's client part, named alike everywhere.
CLIENT_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(ClientInfo))


@dataclass(frozen=True, slots=True)
class Breakout:
    id: str
    org_id: str
    name: str | None
    ended_at: datetime | None
    # Open sessions one user may have in it; None takes the server's default, 0 is unlimited.
    device_limit: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # Who counts as present (at most one is set; None takes the server's default rule).
    present_min_minutes: int | None = None
    present_min_percent: float | None = None

    @property
    def place(self) -> str:
        return org_place(self.org_id, self.id)

    @property
    def scheduled_seconds(self) -> float | None:
        if self.starts_at is None or self.ends_at is None:
            return None
        return (self.ends_at - self.starts_at).total_seconds()

    def state(self, now: datetime) -> BreakoutState:
        """Ended once ended by a host or past its scheduled end; scheduled before its start."""
        if self.ended_at is not None or (self.ends_at is not None and self.ends_at <= now):
            return BreakoutState.ENDED
        if self.starts_at is not None and self.starts_at > now:
            return BreakoutState.SCHEDULED
        return BreakoutState.LIVE


class BreakoutState(StrEnum):
    LIVE = "live"
    SCHEDULED = "scheduled"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class BreakoutSpec:
    """What a host sets on a breakout it creates or updates."""

    name: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    device_limit: int | None = None
    present_min_minutes: int | None = None
    present_min_percent: float | None = None


@dataclass(frozen=True, slots=True)
class AttendanceSession:
    """One stay of one user in one breakout, keyed by (user_id, breakout_id, session_id)."""

    user_id: str
    breakout_id: str
    session_id: str
    session_type: SessionType
    entry_ts: datetime
    user_name: str
    org_id: str
    client: ClientInfo
    node_id: str | None = None
    exit_ts: datetime | None = None
    exit_reason: ExitReason | None = None
    # Times a lost connection interrupted it and its client resumed it; how long it was away.
    interruptions: int = 0
    interrupted_seconds: float = 0.0

    @property
    def place(self) -> str:
        """Its breakout among every organisation's (see `org_place`)."""
        return org_place(self.org_id, self.breakout_id)

    @property
    def attended(self) -> bool:
        return self.exit_ts is not None

    @property
    def duration_seconds(self) -> float | None:
        """Attended time: from entry to exit, less the interruptions."""
        if self.exit_ts is None:
            return None
        return (self.exit_ts - self.entry_ts).total_seconds() - self.interrupted_seconds

    def closed(self, at: datetime, reason: ExitReason) -> AttendanceSession:
        """This session ended at `at` (never before it began) for `reason`."""
        return dataclasses.replace(self, exit_ts=max(at, self.entry_ts), exit_reason=reason)
