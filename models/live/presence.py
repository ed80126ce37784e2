"""Live presence: which viewers are in each breakout right now."""

from __future__ import annotations

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
    first: what the device limit needs, read in the same step."""

    count: int
    user_sessions: tuple[str, ...]


class PresenceStore(Protocol):
    """Where live viewers are kept: this process's memory, or (across nodes) Redis."""

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        """Add a viewer (again is fine)."""

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        """Remove a viewer (absent is fine); return the breakout's viewer count."""

    async def counts(self, breakout_ids: Sequence[str]) -> list[int]:
        """The viewer count of each breakout, read together (one round trip)."""

    async def viewers(self, breakout_id: str) -> list[Viewer]: ...


class MemoryPresence:
    """Presence for a single process: one dict of viewers per breakout."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Viewer]] = {}

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        room = self._rooms.setdefault(breakout_id, {})
        room[viewer.session_id] = viewer
        mine = sorted(
            (v for v in room.values() if v.user_id == viewer.user_id),
            key=lambda v: (v.since, v.session_id),
        )
        return Added(len(room), tuple(v.session_id for v in mine))

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        room = self._rooms.get(breakout_id)
        if room is None:
            return 0
        room.pop(session_id, None)
        if not room:
            del self._rooms[breakout_id]
        return len(room)

    async def counts(self, breakout_ids: Sequence[str]) -> list[int]:
        return [len(self._rooms.get(breakout_id, ())) for breakout_id in breakout_ids]

    async def viewers(self, breakout_id: str) -> list[Viewer]:
        return sorted(self._rooms.get(breakout_id, {}).values(), key=lambda v: v.since)
