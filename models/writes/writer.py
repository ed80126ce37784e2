"""Group commit: session opens and exits, comments and activity, from every socket of a process
share transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import asyncpg

from models.domain.errors import NotFound, Unavailable
from models.domain.records import AttendanceSession
from models.runtime.loops import Loop, stop_task
from models.runtime.metrics import Metrics
from models.store.activity import Activity, write_activity
from models.store.comments import Comment, write_comments
from models.store.database import DATABASE_GONE, Connection
from models.store.sessions import (
    Resume,
    SessionExit,
    SessionKey,
    Written,
    close_sessions_of_lost_nodes,
    resume_session,
    session_holder,
    session_key,
    write_sessions,
)
from models.writes.journal import Journal, JournalEntry
from models.writes.replay import JournalReplay

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

logger = logging.getLogger(__name__)

T = TypeVar("T")

_WRITE_FAILED: tuple[type[Exception], ...] = (asyncpg.PostgresError, *DATABASE_GONE)


@dataclass(slots=True)
class _Write:
    """One queued write and the future its caller awaits; exactly one of open, exit, comment and
    activity is set."""

    open: AttendanceSession | None = None
    exit: SessionExit | None = None
    comment: Comment | None = None
    activity: Activity | None = None
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def entry(self) -> JournalEntry:
        found = self.open or self.exit or self.comment or self.activity
        assert found is not None  # noqa: S101 - a write is made with one of them
        return found

    def resolve(self, value: bool) -> None:
        if not self.done.done():
            self.done.set_result(value)

    def fail(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)


class SessionWriter:
    """Queues writes, commits them in batches, and releases each caller only after its commit.

    A batch is taken when the loop is free: at most `batch_max_rows` writes, after waiting up to
    `batch_max_wait_s` for more when writes are arriving faster than commits take them (the last
    batch had `batch_wait_min_rows` or more). One transaction is in flight at a time, so writes
    commit in the order they were queued and an exit never reaches the database before its
    open. The queue is bounded: past `queue_max` writes callers get `Unavailable` at once
    instead of memory growing without limit.

    With a journal, a batch the database cannot take (it is unreachable) is fsynced to the
    journal and acked from there. From then on every batch goes to the journal behind it, so
    the order holds, while a `JournalReplay` loop tries the database every `retry_s` and
    replays the journal into it; when the journal is empty, batches go to the database again.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        batch_max_rows: int,
        batch_max_wait_s: float,
        queue_max: int,
        batch_wait_min_rows: int = 2,
        journal: Journal | None = None,
        retry_s: float = 1.0,
        commit_timeout_s: float = 10.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._pool = pool
        self._batch_max_rows = batch_max_rows
        self._batch_max_wait_s = batch_max_wait_s
        self._batch_wait_min_rows = batch_wait_min_rows
        self._queue_max = queue_max
        self._journal = journal
        self._retry_s = retry_s
        self._commit_timeout_s = commit_timeout_s
        # Held for the writer's life: a pool checkout per batch costs a reset round trip.
        self._connection: PoolConnectionProxy[asyncpg.Record] | None = None
        # Whoever holds it (a batch, or a replay chunk) has the connection and the journal.
        self._turn = asyncio.Lock()
        self._queue: deque[_Write] = deque()
        self._ready = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._replay: JournalReplay | None = None
        self._replay_loop: Loop | None = None
        self._last_batch_rows = 0
        self.committed_batches = 0
        self.committed_writes = 0
        self.journaled_writes = 0

    @property
    def depth(self) -> int:
        """Writes queued and not yet taken into a batch."""
        return len(self._queue)

    @property
    def journal_backlog(self) -> int:
        """Writes acked from the journal and not yet replayed into the database."""
        return 0 if self._journal is None else self._journal.backlog

    @property
    def journaling(self) -> bool:
        """New writes can still be made durable without the database."""
        return self._journal is not None and not self._closing

    @property
    def degraded(self) -> bool:
        """Writes are being acked from the local journal, not the database."""
        return self.journal_backlog > 0

    def start(self) -> None:
        if self._journal is not None:
            self._replay = JournalReplay(
                self._journal,
                apply=self._apply,
                close_lost=self._close_lost_nodes,
                turn=self._turn,
                chunk_rows=self._batch_max_rows,
            )
            self._replay_loop = Loop(
                "journal-replay", self._replay.round, every_s=self._retry_s, metrics=self._metrics
            )
            self._replay_loop.start()
        self._task = asyncio.create_task(self._run(), name="session-writer")

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking writes, store what is queued, and end the loop.

        A reachable database gets the journal's backlog too; an unreachable one leaves it on
        disk for the next start."""
        self._closing = True
        self._ready.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            logger.error(
                "session writer did not finish in %.0f s; %d queued writes lost",
                timeout_s,
                len(self._queue),
            )
            await stop_task(self._task)
        if self._replay_loop is not None and self._replay is not None:
            await self._replay_loop.stop()
            try:
                await asyncio.wait_for(self._replay.round(), timeout_s)
            except Exception:  # the journal keeps it for the next start
                logger.exception("last journal replay before stopping failed")
        await self._drop_connection()
        if self.journal_backlog:
            logger.warning(
                "%d journaled writes wait for the database; the next start replays them",
                self.journal_backlog,
            )

    async def open_session(self, session: AttendanceSession) -> None:
        """Return once the session's row is durable (committed, or fsynced to the journal).
        Raises NotFound when the database finds its breakout ended before it began."""
        await self._submit(_Write(open=session))

    async def record_exit(self, exit_: SessionExit) -> bool:
        """Return once the exit is durable: True if it closed the session (or was journaled),
        False if the session was already closed (exit_ts is written once)."""
        return await self._submit(_Write(exit=exit_))

    async def post_comment(self, comment: Comment) -> None:
        """Return once the comment is durable (committed, or fsynced to the journal)."""
        await self._submit(_Write(comment=comment))

    async def record_activity(self, activity: Activity) -> None:
        """Return once the change of state is durable (committed, or fsynced to the journal)."""
        await self._submit(_Write(activity=activity))

    async def resume(self, resume: Resume) -> AttendanceSession | None:
        """Open an earlier session again (see `resume_session`). None when it may not be
        resumed, or cannot be now: while the database is away (the writer journals), nothing
        is resumed and the join opens a session of its own. Resumes are rare and may wait for
        another node: they take a pooled connection, never the batches' own."""
        return await self._read_or_none(resume_session, resume)

    async def holder(self, resume: Resume) -> tuple[bool, str | None] | None:
        """Whether the session a resume names is open, and which node holds it."""
        return await self._read_or_none(session_holder, resume)

    async def _read_or_none(
        self, statement: Callable[[Connection, Resume], Awaitable[T]], resume: Resume
    ) -> T | None:
        if self.degraded or self._closing:
            return None
        try:
            async with asyncio.timeout(self._commit_timeout_s), self._pool.acquire() as connection:
                return await statement(connection, resume)
        except DATABASE_GONE:
            return None

    async def _submit(self, write: _Write) -> bool:
        if self._closing:
            raise Unavailable("the server is shutting down")
        if len(self._queue) >= self._queue_max:
            raise Unavailable("the server is busy; try again shortly")
        self._queue.append(write)
        self._ready.set()
        # A caller that goes away cancels only its future: the write stays queued and commits
        # with the others of its batch (resolving skips a cancelled future).
        return await write.done

    async def _run(self) -> None:
        while not (self._closing and not self._queue):
            if not self._queue and not self._closing:
                await self._ready.wait()
            if self._worth_waiting():
                await asyncio.sleep(self._batch_max_wait_s)
            self._ready.clear()
            count = min(len(self._queue), self._batch_max_rows)
            batch = [self._queue.popleft() for _ in range(count)]
            self._last_batch_rows = count
            if not batch:
                continue
            try:
                async with self._turn:
                    await self._store(batch)
            except Exception:
                # The loop is every caller's way to durability: it must outlive any one fault.
                logger.exception("session writer round failed; %d writes refused", len(batch))
                for write in batch:
                    write.fail(Unavailable("the attendance record could not be written"))
            if self._queue:
                self._ready.set()

    def _worth_waiting(self) -> bool:
        """Wait for company only when writes come in faster than commits take them.

        While the last batch was small (by default: one write, a quiet server), commits keep up
        and the next batch commits at once: waiting would only add latency. When it was bigger
        (the idea of PostgreSQL's commit_siblings), the wait makes the next one bigger and the
        commits fewer. A commit costs PostgreSQL far more than a row (bench/write_batch.py:
        0.4-1 ms of its CPU for a batch of one, ~0.3 ms a row in batches of four), so this is what
        keeps the cost per event down from a busy check-in hour to a join storm.
        """
        return (
            not self._closing
            and self._batch_max_wait_s > 0
            and self._last_batch_rows >= self._batch_wait_min_rows
            and len(self._queue) < self._batch_max_rows
        )

    async def _store(self, batch: list[_Write]) -> None:
        if self.degraded:
            # Behind journaled writes: the database must see them first.
            await self._journal_batch(batch)
            return
        try:
            written = await self._write(batch)
        except DATABASE_GONE as exc:
            if self._journal is None:
                logger.warning("database unreachable, %d writes refused: %s", len(batch), exc)
                for write in batch:
                    write.fail(Unavailable("the attendance database is unavailable; try again"))
                return
            logger.warning("database unreachable (%s); journaling writes", exc)
            await self._journal_batch(batch)
            return
        except asyncpg.PostgresError as exc:
            # One bad row must not sink the writes it happened to share a batch with.
            logger.warning("batch of %d refused (%s); writing one by one", len(batch), exc)
            await self._commit_each(batch)
            return
        self._resolve(batch, written)

    async def _commit_each(self, batch: list[_Write]) -> None:
        for index, write in enumerate(batch):
            try:
                written = await self._write([write])
            except DATABASE_GONE:
                if self._journal is None:
                    raise
                await self._journal_batch(batch[index:])
                return
            except _WRITE_FAILED as exc:
                logger.error("session write refused by the database: %s", exc)
                write.fail(Unavailable("the attendance record could not be written"))
            else:
                self._resolve([write], written)

    async def _journal_batch(self, batch: list[_Write]) -> None:
        assert self._journal is not None  # noqa: S101 - only called with a journal
        entries = [write.entry for write in batch]
        try:
            await asyncio.to_thread(self._journal.append, entries)
        except OSError as exc:
            logger.error("journal append failed, %d writes refused: %s", len(batch), exc)
            for write in batch:
                write.fail(Unavailable("the attendance record could not be stored; try again"))
            return
        self.journaled_writes += len(batch)
        first_exits = {exit_.key for exit_ in _first_exit_per_session(entries)}
        self._resolve(batch, Written(closed=first_exits, refused=set()), committed=False)

    async def _write(self, batch: list[_Write]) -> Written:
        written = await self._apply([write.entry for write in batch])
        if self._metrics is not None:
            self._metrics.batch_rows.observe(len(batch))
        return written

    async def _apply(self, entries: list[JournalEntry]) -> Written:
        """Opens and exits in one statement, comments and activity in one each; in one
        transaction when the batch holds more than one kind."""
        opens = [entry for entry in entries if isinstance(entry, AttendanceSession)]
        exits = _first_exit_per_session(entries)
        comments = [entry for entry in entries if isinstance(entry, Comment)]
        activity = [entry for entry in entries if isinstance(entry, Activity)]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._commit_timeout_s):
                connection = await self._held_connection()
                kinds = bool(opens or exits) + bool(comments) + bool(activity)
                if kinds > 1:
                    async with connection.transaction():
                        written = await _write_kinds(connection, opens, exits, comments, activity)
                else:  # the hot path: one statement, its own transaction
                    written = await _write_kinds(connection, opens, exits, comments, activity)
        except DATABASE_GONE:
            await self._drop_connection()
            raise
        if self._metrics is not None:
            self._metrics.commit_seconds.observe(time.perf_counter() - started)
        return written

    async def _close_lost_nodes(self, node_ids: Sequence[str], last_alive: datetime) -> int:
        try:
            async with asyncio.timeout(self._commit_timeout_s):
                connection = await self._held_connection()
                return await close_sessions_of_lost_nodes(connection, node_ids, last_alive)
        except DATABASE_GONE:
            await self._drop_connection()
            raise

    async def _held_connection(self) -> PoolConnectionProxy[asyncpg.Record]:
        if self._connection is None:
            self._connection = await self._pool.acquire()
        return self._connection

    async def _drop_connection(self) -> None:
        """Give back the writer's connection (it is broken, or the writer is done)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(*_WRITE_FAILED):
                await self._pool.release(connection, timeout=1)

    def _resolve(self, batch: list[_Write], written: Written, *, committed: bool = True) -> None:
        if committed:
            self.committed_batches += 1
            self.committed_writes += len(batch)
        closed = written.closed
        for write in batch:
            if write.exit is not None:
                # Only the first exit of a session in the batch was sent; it alone closed it.
                key = write.exit.key
                write.resolve(key in closed)
                closed.discard(key)
            elif write.open is not None and session_key(write.open) in written.refused:
                write.fail(NotFound(f"breakout {write.open.breakout_id} has ended"))
            else:
                write.resolve(True)


async def _write_kinds(
    connection: Connection,
    opens: list[AttendanceSession],
    exits: list[SessionExit],
    comments: list[Comment],
    activity: list[Activity],
) -> Written:
    """Each kind of write the batch holds, in one statement each; activity last, after the
    opens of the sessions it belongs to."""
    written = Written(closed=set(), refused=set())
    if opens or exits:
        written = await write_sessions(connection, opens, exits)
    if comments:
        await write_comments(connection, comments)
    if activity:
        await write_activity(connection, activity)
    return written


def _first_exit_per_session(entries: list[JournalEntry]) -> list[SessionExit]:
    seen: dict[SessionKey, SessionExit] = {}
    for entry in entries:
        if isinstance(entry, SessionExit):
            seen.setdefault(entry.key, entry)
    return list(seen.values())
