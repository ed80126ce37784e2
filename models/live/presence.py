"""Live presence: which viewers are in each breakout right now."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from models.domain.errors import Unavailable
from models.domain.records import AttendanceSession

logger = logging.getLogger(__name__)


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
    # What its client last said it is doing (an ActivityState's value), and since when; None
    # until it says (and again after a resume, until it says again).
    activity: str | None = None
    activity_since: datetime | None = None

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

    async def set_activity(
        self, breakout_id: str, session_id: str, activity: str, since: datetime
    ) -> None:
        """Note what a viewer shown in the breakout is doing (absent: nothing changes)."""

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
        room[viewer.session_id] = dataclasses.replace(
            viewer, away_since=None, activity=None, activity_since=None
        )
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

    async def set_activity(
        self, breakout_id: str, session_id: str, activity: str, since: datetime
    ) -> None:
        room = self._rooms.get(breakout_id, {})
        viewer = room.get(session_id)
        if viewer is not None:
            room[session_id] = dataclasses.replace(viewer, activity=activity, activity_since=since)

    async def counts(self, breakout_ids: Sequence[str]) -> list[int]:
        return [len(self._rooms.get(breakout_id, ())) for breakout_id in breakout_ids]

    async def viewers(self, breakout_id: str) -> list[Viewer]:
        return sorted(self._rooms.get(breakout_id, {}).values(), key=lambda v: v.since)

    async def lost(self) -> bool:
        return False  # this process's memory forgets nothing while the process runs


PRESENCE_AWAY = "live presence is unavailable for now; attendance is still recorded"


class KeptPresence:
    """A presence store whose failures never fail a join or an exit, and that puts back what the
    store lost.

    Presence is live state; the record is PostgreSQL's. While the store (Redis) is away, joins
    and leaves are still recorded and acked: after a change fails, changes are kept here only
    (so no join waits on a store that does not answer), and counts fall back to this node's own
    viewers. Reads for hosts (`viewers`, `counts`) raise `Unavailable`. `restore` (a loop, every
    heartbeat) puts this node's viewers back once the store answers again, or when it forgot them
    (Redis restarted empty, or flushed), and sends the removals it missed: hosts' views and
    device limits are right again without any client rejoining.
    """

    def __init__(self, store: PresenceStore, lost: Callable[[], Awaitable[bool]]) -> None:
        self._store = store
        self._lost = lost  # whether the store forgot what this node put in it
        # What this node has put in the store: its viewers, and (if away) until when.
        self._mine: dict[str, dict[str, tuple[Viewer, datetime | None]]] = {}
        self._missed_removals: dict[tuple[str, str], str] = {}
        self._dirty = False
        self._kept_here = 0  # changes kept here only (the store missed them), ever

    @property
    def degraded(self) -> bool:
        """The store missed changes of this node: they are put right once it answers."""
        return self._dirty

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        room = self._mine.setdefault(breakout_id, {})
        room[viewer.session_id] = (viewer, None)
        self._missed_removals.pop((breakout_id, viewer.session_id), None)
        if not self._dirty:
            try:
                return await self._store.add(breakout_id, viewer)
            except Exception as exc:
                self._failed(exc)
        self._kept_here += 1
        return Added(len(room), (viewer.session_id,))

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        room = self._mine.get(breakout_id, {})
        room.pop(session_id, None)
        if not room:
            self._mine.pop(breakout_id, None)
        if not self._dirty:
            try:
                return await self._store.remove(breakout_id, user_id, session_id)
            except Exception as exc:
                self._failed(exc)
        self._kept_here += 1
        self._missed_removals[(breakout_id, session_id)] = user_id
        return len(room)

    async def mark_away(self, away: Away, until: datetime) -> int:
        room = self._mine.get(away.place, {})
        if away.session_id in room:
            viewer = room[away.session_id][0]
            room[away.session_id] = (dataclasses.replace(viewer, away_since=away.since), until)
        if not self._dirty:
            try:
                return await self._store.mark_away(away, until)
            except Exception as exc:
                self._failed(exc)
        self._kept_here += 1
        return len(room)

    async def set_activity(
        self, breakout_id: str, session_id: str, activity: str, since: datetime
    ) -> None:
        room = self._mine.get(breakout_id, {})
        if session_id in room:
            viewer, until = room[session_id]
            changed = dataclasses.replace(viewer, activity=activity, activity_since=since)
            room[session_id] = (changed, until)
        if not self._dirty:
            try:
                await self._store.set_activity(breakout_id, session_id, activity, since)
            except Exception as exc:
                self._failed(exc)

    async def sweep_away(self, now: datetime) -> list[Away]:
        if self._dirty:
            return []  # restore first: the store may lack this node's marks
        gone = await self._store.sweep_away(now)  # a failure: the loop tries again
        for away in gone:
            room = self._mine.get(away.place, {})
            room.pop(away.session_id, None)
            if not room:
                self._mine.pop(away.place, None)
        return gone

    async def counts(self, breakout_ids: Sequence[str]) -> list[int]:
        try:
            return await self._store.counts(breakout_ids)
        except Exception as exc:
            raise Unavailable(PRESENCE_AWAY) from exc

    async def viewers(self, breakout_id: str) -> list[Viewer]:
        try:
            return await self._store.viewers(breakout_id)
        except Exception as exc:
            raise Unavailable(PRESENCE_AWAY) from exc

    async def restore(self, now: datetime) -> int:
        """Put this node's viewers back if the store lost them or missed a change; how many.
        Changes go together (the store batches them): ten thousand viewers are a few calls."""
        if not (await self._lost() or self._dirty):
            return 0
        kept_before = self._kept_here
        changes: list[Awaitable[object]] = []
        for place, room in list(self._mine.items()):
            for session_id, (viewer, until) in list(room.items()):
                if until is not None and until <= now:
                    room.pop(session_id, None)  # its window ran out meanwhile
                    continue
                changes.append(self._put_back(place, viewer, until))
        missed = list(self._missed_removals.items())
        changes += [self._store.remove(place, user, session) for (place, session), user in missed]
        await asyncio.gather(*changes)  # a failure: still dirty, the next round tries again
        for key, _ in missed:
            self._missed_removals.pop(key, None)
        # A change kept here meanwhile may have missed this round: the next one sends it.
        self._dirty = self._kept_here != kept_before
        return len(changes) - len(missed)

    async def _put_back(self, place: str, viewer: Viewer, until: datetime | None) -> None:
        await self._store.add(place, dataclasses.replace(viewer, away_since=None))
        if viewer.activity is not None and viewer.activity_since is not None:
            await self._store.set_activity(
                place, viewer.session_id, viewer.activity, viewer.activity_since
            )
        if until is not None and viewer.away_since is not None:
            away = Away(place, viewer.user_id, viewer.session_id, viewer.away_since)
            await self._store.mark_away(away, until)

    def _failed(self, exc: Exception) -> None:
        if not self._dirty:
            logger.warning("live presence unavailable (%s); attendance is still recorded", exc)
        self._dirty = True
