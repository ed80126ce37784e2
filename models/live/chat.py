"""A breakout's room is its chat: who may post (a socket with an open session there, not muted,
within its rate), the comments sent on every join, older ones on request, and hosts taking one
down or muting a user. Comments are written through the session writer: batched with the
sessions, journaled while PostgreSQL is away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from models.domain.access import require_can_host, require_can_read_sessions
from models.domain.errors import Forbidden, NotFound, NotJoined, RateLimited
from models.domain.fields import iso_ms
from models.domain.rates import TokenBucket
from models.domain.records import Identity, now_ms
from models.live.desk import Attendance
from models.store.breakouts import BreakoutDirectory
from models.store.comments import (
    Comment,
    delete_comment,
    fetch_before,
    fetch_newest,
    fetch_record,
    mute,
    muted_until,
    new_comment_id,
)
from models.store.database import DATABASE_GONE
from models.writes.writer import SessionWriter

MAX_COMMENT_CHARS = 2000
MAX_COMMENTS_BEFORE = 200
MAX_MUTE_MINUTES = 7 * 24 * 60
# How long a node trusts what it read of a user's mute: a mute from another node applies
# within this (the node that mutes applies it at once).
MUTE_FRESH_S = 2.0
# Per-user buckets idle this long are forgotten.
_BUCKET_IDLE_S = 600.0
# How long a node answers joins from the newest comments it last read of a breakout, when no
# post or delete there has reached it since (every node sees each one: `comments_changed`).
# It bounds what a lost message (Redis restarting) could leave stale.
NEWEST_FRESH_S = 5.0
# Breakouts whose newest comments a node keeps at most (those read in the last NEWEST_FRESH_S).
_NEWEST_KEPT = 5_000


Breakout = tuple[str, str]  # (org_id, breakout_id)


@dataclass(slots=True)
class NewestComments:
    """The newest comments of breakouts as this node last read them, kept while no post or
    delete in the breakout has reached the node since the read began (and NEWEST_FRESH_S at
    most): joins in a busy breakout then cost no database read each.

    Changes are numbered as the node learns of them; a read remembers the number it began at,
    and its result is kept only for breakouts with no change numbered after it."""

    kept: dict[Breakout, tuple[float, list[Comment]]] = field(default_factory=dict)
    changed: dict[Breakout, int] = field(default_factory=dict)
    changes: int = 0
    forgotten_at: int = 0  # `changed` was emptied at this number: older reads keep nothing

    def get(self, breakout: Breakout, now: float) -> list[Comment] | None:
        found = self.kept.get(breakout)
        return found[1] if found is not None and now - found[0] < NEWEST_FRESH_S else None

    def keep(
        self,
        read: dict[Breakout, list[Comment]],
        asked: list[Breakout],
        began: float,
        began_at: int,
    ) -> None:
        """Keep what a read found (nothing, for a breakout it found no comment in)."""
        if began_at < self.forgotten_at:
            return
        for breakout in asked:
            if self.changed.get(breakout, 0) <= began_at:
                self.kept[breakout] = (began, read.get(breakout, []))
        if len(self.kept) > _NEWEST_KEPT:
            self.kept = {
                b: found for b, found in self.kept.items() if began - found[0] < NEWEST_FRESH_S
            }
            if len(self.kept) > _NEWEST_KEPT:
                self.kept.clear()

    def change(self, breakout: Breakout) -> None:
        self.changes += 1
        self.kept.pop(breakout, None)
        self.changed[breakout] = self.changes
        if len(self.changed) > 10 * _NEWEST_KEPT:
            self.changed.clear()
            self.forgotten_at = self.changes


@dataclass(slots=True)
class _Reads:
    """The node's reads of the newest comments for joining sockets: one read at a time, of
    every breakout some join waits for (one statement, one round trip); the joins that come
    while one runs share the next, which starts after they entered the room (what is committed
    later reaches them through the room)."""

    running: asyncio.Task[dict[Breakout, list[Comment]]] | None = None
    waiting: dict[Breakout, list[asyncio.Future[list[Comment]]]] = field(default_factory=dict)


class Chat:
    def __init__(
        self,
        pool: asyncpg.Pool,
        writer: SessionWriter,
        attendance: Attendance,
        breakouts: BreakoutDirectory,
        *,
        on_join: int,
        rate_per_min: float,
        burst: int = 5,
        clock: Callable[[], datetime] = now_ms,
    ) -> None:
        self._pool = pool
        self._writer = writer
        self._attendance = attendance
        self._breakouts = breakouts
        self._on_join = on_join
        self._rate_per_s = rate_per_min / 60
        self._burst = burst
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, TokenBucket]] = {}
        self._mutes: dict[tuple[str, str, str], tuple[float, datetime | None]] = {}
        self._reads = _Reads()
        self._newest = NewestComments()

    async def post(
        self, connection_id: str, breakout_id: str, text: str, reply_to: str | None
    ) -> Comment:
        """Store a comment of the connection's user in the breakout it is in; return it once
        it is durable."""
        identity = self._attendance.identity(connection_id)
        session = self._attendance.current(connection_id)
        if session is None or session.breakout_id != breakout_id:
            raise NotJoined(f"join breakout {breakout_id} before commenting in it")
        now = self._clock()
        if not self._take(identity, time.monotonic()):
            raise RateLimited("too many comments; slow down")
        until = await self._muted_until(identity.org_id, breakout_id, identity.user_id)
        if until is not None and until > now:
            raise Forbidden(f"you are muted in this breakout until {iso_ms(until)}")
        comment = Comment(
            org_id=identity.org_id,
            breakout_id=breakout_id,
            id=new_comment_id(now),
            user_id=identity.user_id,
            user_name=identity.name,
            text=text,
            reply_to=reply_to,
            created_at=now,
        )
        await self._writer.post_comment(comment)
        return comment

    async def on_join(self, org_id: str, breakout_id: str) -> list[Comment]:
        """The newest comments (oldest first) for a socket that has entered the breakout's room."""
        kept = self.newest_kept(org_id, breakout_id)
        if kept is not None:
            return kept
        waiting: asyncio.Future[list[Comment]] = asyncio.get_running_loop().create_future()
        self._reads.waiting.setdefault((org_id, breakout_id), []).append(waiting)
        if self._reads.running is None:
            self._start_read()
        return list(await waiting)

    def newest_kept(self, org_id: str, breakout_id: str) -> list[Comment] | None:
        """What `on_join` would answer, when this node has it without reading (see
        `NewestComments`); None when it would read."""
        kept = self._newest.get((org_id, breakout_id), time.monotonic())
        return None if kept is None else list(kept)

    async def before(
        self, connection_id: str, breakout_id: str, before: str, limit: int
    ) -> list[Comment]:
        """Older comments for a socket in the breakout, or for its org's hosts."""
        identity = self._attendance.identity(connection_id)
        session = self._attendance.current(connection_id)
        if session is None or session.breakout_id != breakout_id:
            breakout = await self._breakouts.get(identity.org_id, breakout_id)
            require_can_host(identity, breakout)
        async with self._pool.acquire() as connection:
            return await fetch_before(
                connection, identity.org_id, breakout_id, before, min(limit, MAX_COMMENTS_BEFORE)
            )

    async def delete(self, identity: Identity, breakout_id: str, comment_id: str) -> None:
        """Take a comment down (a host or admin of the org); the record keeps who and when."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_host(identity, breakout)
        async with self._pool.acquire() as connection:
            found = await delete_comment(
                connection,
                breakout.org_id,
                breakout.id,
                comment_id,
                self._clock(),
                identity.user_id,
            )
        if not found:
            raise NotFound(f"comment {comment_id} does not exist")

    async def mute(
        self, identity: Identity, breakout_id: str, user_id: str, minutes: int
    ) -> datetime:
        """Refuse the user's comments in the breakout for `minutes` (0 lifts a mute)."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_host(identity, breakout)
        now = self._clock()
        until = now + timedelta(minutes=minutes)
        async with self._pool.acquire() as connection:
            await mute(
                connection, breakout.org_id, breakout.id, user_id, until, identity.user_id, now
            )
        self._mutes[(breakout.org_id, breakout.id, user_id)] = (time.monotonic(), until)
        return until

    def comments_changed(self, org_id: str, breakout_id: str) -> None:
        """A comment was posted or taken down in the breakout (on any node): the next join
        there reads the newest comments afresh. Called for every `new-comment` and
        `comment-deleted` as this node delivers it, before its sockets get it: a socket that
        entered the room later reads after this, one that entered earlier gets the event."""
        self._newest.change((org_id, breakout_id))

    def forget_mute(self, org_id: str, breakout_id: str, user_id: str) -> None:
        """Another node muted the user: read it afresh."""
        self._mutes.pop((org_id, breakout_id, user_id), None)

    async def record(
        self, identity: Identity, breakout_id: str, after: str, limit: int | None
    ) -> list[Comment]:
        """The breakout's comments oldest first, deleted ones with who took them down (text
        left out), for its org's analysts, hosts and admins."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_read_sessions(identity, breakout)
        async with self._pool.acquire() as connection:
            return await fetch_record(connection, breakout.org_id, breakout.id, after, limit)

    async def _read_newest(self, breakouts: list[Breakout]) -> dict[Breakout, list[Comment]]:
        async with self._pool.acquire() as connection:
            return await fetch_newest(connection, breakouts, self._on_join)

    def _start_read(self) -> None:
        reads = self._reads
        waiting, reads.waiting = reads.waiting, {}
        asked = list(waiting)
        reads.running = asyncio.create_task(self._read_newest(asked))
        began, began_at = time.monotonic(), self._newest.changes

        def done(task: asyncio.Task[dict[Breakout, list[Comment]]]) -> None:
            if not task.cancelled() and task.exception() is None:
                self._newest.keep(task.result(), asked, began, began_at)
            for breakout, futures in waiting.items():
                for future in futures:
                    if future.done():
                        continue
                    if task.cancelled():
                        future.cancel()
                    elif task.exception() is not None:
                        future.set_exception(task.exception())  # type: ignore[arg-type]
                    else:
                        future.set_result(task.result().get(breakout, []))
            reads.running = None
            if reads.waiting:
                self._start_read()

        reads.running.add_done_callback(done)

    def _take(self, identity: Identity, now: float) -> bool:
        key = (identity.org_id, identity.user_id)
        found = self._buckets.get(key)
        bucket = found[1] if found else TokenBucket(self._rate_per_s, self._burst, now)
        self._buckets[key] = (now, bucket)
        if len(self._buckets) > 100_000:
            for stale in [
                k for k, (seen, _) in self._buckets.items() if now - seen > _BUCKET_IDLE_S
            ]:
                del self._buckets[stale]
        return bucket.take(now)

    async def _muted_until(self, org_id: str, breakout_id: str, user_id: str) -> datetime | None:
        key = (org_id, breakout_id, user_id)
        cached = self._mutes.get(key)
        if cached is not None and time.monotonic() - cached[0] < MUTE_FRESH_S:
            return cached[1]
        try:
            async with self._pool.acquire() as connection:
                until = await muted_until(connection, org_id, breakout_id, user_id)
        except DATABASE_GONE:
            return None if cached is None else cached[1]  # the comment is journaled meanwhile
        self._mutes[key] = (time.monotonic(), until)
        if len(self._mutes) > 100_000:
            self._mutes.clear()
        return until
