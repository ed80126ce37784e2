"""Live presence: which viewers are in each breakout right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from models.records import AttendanceSession


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


class PresenceStore(Protocol):
    """Where live viewers are kept: this process's memory, or (across nodes) Redis."""

    async def add(self, breakout_id: str, viewer: Viewer) -> int:
        """Add a viewer; return the breakout's viewer count."""

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        """Remove a viewer (absent is fine); return the breakout's viewer count."""

    async def count(self, breakout_id: str) -> int: ...

    async def viewers(self, breakout_id: str) -> list[Viewer]: ...

    async def user_sessions(self, breakout_id: str, user_id: str) -> list[str]:
        """The user's live session ids in the breakout, oldest first (the device limit's view)."""


class MemoryPresence:
    """Presence for a single process: one dict of viewers per breakout."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Viewer]] = {}

    async def add(self, breakout_id: str, viewer: Viewer) -> int:
        room = self._rooms.setdefault(breakout_id, {})
        room[viewer.session_id] = viewer
        return len(room)

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        room = self._rooms.get(breakout_id)
        if room is None:
            return 0
        room.pop(session_id, None)
        if not room:
            del self._rooms[breakout_id]
        return len(room)

    async def user_sessions(self, breakout_id: str, user_id: str) -> list[str]:
        mine = [v for v in self._rooms.get(breakout_id, {}).values() if v.user_id == user_id]
        return [v.session_id for v in sorted(mine, key=lambda v: (v.since, v.session_id))]

    async def count(self, breakout_id: str) -> int:
        return len(self._rooms.get(breakout_id, ()))

    async def viewers(self, breakout_id: str) -> list[Viewer]:
        return sorted(self._rooms.get(breakout_id, {}).values(), key=lambda v: v.since)
