"""Live presence: which viewers are in each breakout right now."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from models.domain.records import AttendanceSession


@dataclass(frozen=True, slots=True)
class Viewer:
    """What a host sees of one viewer in a breakout."""

    user_id: str
    name: str
    session_id: str
    since: datetime
    city: str | None
    country_code: str | None
    browser: str | None
    os: str | None
    device: str | None
    # Set while its connection is lost and its client may still resume it: when last heard.
    away_since: datetime | None = None

    @classmethod
    def of(cls, session: AttendanceSession) -> Viewer:
        client = session.client
        return cls(
            user_id=session.user_id,
            name=session.user_name,
            session_id=session.session_id,
            since=session.entry_ts,
            city=client.city,
            country_code=client.country_code,
            browser=client.browser,
            os=client.os,
            device=client.device_type,
        )


@dataclass(frozen=True, slots=True)
class Added:
    """The breakout's viewer count after an add, and the user's live session ids in it, oldest
    first: what the device limit needs, read in the same step. `new`: the viewer was not shown
    before (not even as away)."""

    count: int
    user_sessions: tuple[str, ...]
    new: bool = True


@dataclass(frozen=True, slots=True)
class Away:
    """A viewer whose connection was lost, kept (shown reconnecting) until its client resumes
    the session or the window runs out."""

    place: str
    user_id: str
    session_id: str
    since: datetime


class PresenceStore(Protocol):
    """Where live viewers are kept: this process's memory, or (across nodes) Redis."""

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        """Add a viewer (again is fine: a viewer that was away is back)."""

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        """Remove a viewer (absent is fine); return the breakout's viewer count."""

    async def mark_away(self, away: Away, until: datetime) -> int:
        """Keep a viewer shown, as away since `away.since`, until `until` (or until it is added
        again); return the breakout's viewer count."""

    async def sweep_away(self, now: datetime) -> list[Away]:
        """Remove the viewers still away whose time ran out, and return them. With several
        nodes, each such viewer is returned to one of them alone."""

    async def counts(self, breakout_ids: Sequence[str]) -> list[int]:
        """The viewer count of each breakout, read together (one round trip)."""

    async def viewers(self, breakout_id: str) -> list[Viewer]: ...


class MemoryPresence:
    """Presence for a single process: one dict of viewers per breakout."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Viewer]] = {}
        self._away_until: dict[tuple[str, str], datetime] = {}

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        room = self._rooms.setdefault(breakout_id, {})
        new = viewer.session_id not in room
        room[viewer.session_id] = dataclasses.replace(viewer, away_since=None)
        self._away_until.pop((breakout_id, viewer.session_id), None)
        mine = sorted(
            (v for v in room.values() if v.user_id == viewer.user_id),
            key=lambda v: (v.since, v.session_id),
        )
        return Added(len(room), tuple(v.session_id for v in mine), new)

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        self._away_until.pop((breakout_id, session_id), None)
        room = self._rooms.get(breakout_id)
        if room is None:
            return 0
        room.pop(session_id, None)
        if not room:
            del self._rooms[breakout_id]
        return len(room)

    async def mark_away(self, away: Away, until: datetime) -> int:
        room = self._rooms.get(away.place, {})
        viewer = room.get(away.session_id)
        if viewer is not None:
            room[away.session_id] = dataclasses.replace(viewer, away_since=away.since)
            self._away_until[(away.place, away.session_id)] = until
        return len(room)

    async def sweep_away(self, now: datetime) -> list[Away]:
        due = [key for key, until in self._away_until.items() if until <= now]
        gone = []
        for place, session_id in due:
            viewer = self._rooms.get(place, {}).get(session_id)
            if viewer is not None and viewer.away_since is not None:
                gone.append(Away(place, viewer.user_id, session_id, viewer.away_since))
                await self.remove(place, viewer.user_id, session_id)
            self._away_until.pop((place, session_id), None)
        return gone

    async def counts(self, breakout_ids: Sequence[str]) -> list[int]:
        return [len(self._rooms.get(breakout_id, ())) for breakout_id in breakout_ids]

    async def viewers(self, breakout_id: str) -> list[Viewer]:
        return sorted(self._rooms.get(breakout_id, {}).values(), key=lambda v: v.since)
