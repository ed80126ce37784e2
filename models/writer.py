"""Group commit: session opens and exits from every socket of a process share transactions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import asyncpg

from models.background import stop_task
from models.database import DATABASE_GONE
from models.errors import Unavailable
from models.metrics import Metrics
from models.records import AttendanceSession
from models.sessions import SessionExit, SessionKey, close_sessions, insert_sessions

logger = logging.getLogger(__name__)

_WRITE_FAILED: tuple[type[Exception], ...] = (asyncpg.PostgresError, *DATABASE_GONE)


@dataclass(slots=True)
class _Write:
    """One queued write and the future its caller awaits; exactly one of open/exit is set."""

    open: AttendanceSession | None = None
    exit: SessionExit | None = None
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def resolve(self, value: bool) -> None:
        if not self.done.done():
            self.done.set_result(value)

    def fail(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)


class SessionWriter:
    """Queues writes, commits them in batches, and releases each caller only after its commit.

    A batch is taken when the loop is free: at most `batch_max_rows` writes, after waiting up to
    `batch_max_wait_s` for more when writes are arriving together. One transaction is in flight
    at a time, so writes commit in the order they were queued and an exit never reaches the
    database before its open. The queue is bounded: past `queue_max` writes callers get
    `Unavailable` at once instead of memory growing without limit.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        batch_max_rows: int,
        batch_max_wait_s: float,
        queue_max: int,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._pool = pool
        self._batch_max_rows = batch_max_rows
        self._batch_max_wait_s = batch_max_wait_s
        self._queue_max = queue_max
        self._queue: deque[_Write] = deque()
        self._ready = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._last_batch_rows = 0
        self.committed_batches = 0
        self.committed_writes = 0

    @property
    def depth(self) -> int:
        """Writes queued and not yet taken into a batch."""
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="session-writer")

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking writes, commit what is queued, and end the loop."""
        self._closing = True
        self._ready.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            logger.error(
                "session writer did not drain in %.0f s; %d writes lost",
                timeout_s,
                len(self._queue),
            )
            await stop_task(self._task)

    async def open_session(self, session: AttendanceSession) -> None:
        """Return once the session's row is committed."""
        await self._submit(_Write(open=session))

    async def record_exit(self, exit_: SessionExit) -> bool:
        """Return once the exit is committed: True if it closed the session, False if it was
        already closed (exit_ts is written once)."""
        return await self._submit(_Write(exit=exit_))

    async def _submit(self, write: _Write) -> bool:
        if self._closing:
            raise Unavailable("the server is shutting down")
        if len(self._queue) >= self._queue_max:
            raise Unavailable("the server is busy; try again shortly")
        self._queue.append(write)
        self._ready.set()
        # Shielded: a caller that goes away (its socket closed) must not cancel a write others
        # share a transaction with.
        return await asyncio.shield(write.done)

    async def _run(self) -> None:
        while not (self._closing and not self._queue):
            await self._ready.wait()
            if self._worth_waiting():
                await asyncio.sleep(self._batch_max_wait_s)
            self._ready.clear()
            count = min(len(self._queue), self._batch_max_rows)
            batch = [self._queue.popleft() for _ in range(count)]
            self._last_batch_rows = count
            if batch:
                await self._commit(batch)
            if self._queue:
                self._ready.set()

    def _worth_waiting(self) -> bool:
        """Wait for company only when writes are coming in together.

        A lone write after a lone write (a quiet server) commits at once: waiting would only add
        latency. When the last batch had company, the wait makes the next one bigger and the
        commits fewer, which is what keeps a join storm's cost per event down.
        """
        return (
            not self._closing
            and self._batch_max_wait_s > 0
            and self._last_batch_rows > 1
            and len(self._queue) < self._batch_max_rows
        )

    async def _commit(self, batch: list[_Write]) -> None:
        try:
            closed = await self._write(batch)
        except DATABASE_GONE as exc:
            logger.warning("database unreachable, %d writes refused: %s", len(batch), exc)
            for write in batch:
                write.fail(Unavailable("the attendance database is unavailable; try again"))
            return
        except asyncpg.PostgresError as exc:
            # One bad row must not sink the writes it happened to share a batch with.
            logger.warning("batch of %d refused (%s); writing one by one", len(batch), exc)
            await self._commit_each(batch)
            return
        self._resolve(batch, closed)

    async def _commit_each(self, batch: list[_Write]) -> None:
        for write in batch:
            try:
                closed = await self._write([write])
            except _WRITE_FAILED as exc:
                logger.error("session write refused by the database: %s", exc)
                write.fail(Unavailable("the attendance record could not be written"))
            else:
                self._resolve([write], closed)

    async def _write(self, batch: list[_Write]) -> set[SessionKey]:
        opens = [write.open for write in batch if write.open is not None]
        exits = _first_exit_per_session(batch)
        started = time.perf_counter()
        async with self._pool.acquire() as connection, connection.transaction():
            if opens:
                await insert_sessions(connection, opens)
            closed = await close_sessions(connection, exits) if exits else set()
        if self._metrics is not None:
            self._metrics.commit_seconds.observe(time.perf_counter() - started)
            self._metrics.batch_rows.observe(len(batch))
        return closed

    def _resolve(self, batch: list[_Write], closed: set[SessionKey]) -> None:
        self.committed_batches += 1
        self.committed_writes += len(batch)
        for write in batch:
            if write.exit is None:
                write.resolve(True)
            else:
                # Only the first exit of a session in the batch was sent; it alone closed it.
                key = write.exit.key
                write.resolve(key in closed)
                closed.discard(key)


def _first_exit_per_session(batch: list[_Write]) -> list[SessionExit]:
    seen: dict[SessionKey, SessionExit] = {}
    for write in batch:
        if write.exit is not None:
            seen.setdefault(write.exit.key, write.exit)
    return list(seen.values())
