"""Where report reads go: a streaming replica once it has replayed every commit the primary
had made when the read began, else the primary (README "Reports from a replica")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

from models.domain.errors import Unavailable
from models.store.database import DATABASE_GONE, Connection, returned

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

logger = logging.getLogger(__name__)

# Every commit acknowledged to a client is flushed on the primary (synchronous_commit on), so
# its flush position bounds them all; the replica has them once it has replayed that far.
PRIMARY_POSITION = "SELECT pg_current_wal_flush_lsn()::text"
REPLAYED_SINCE = """
SELECT pg_is_in_recovery() AS replica, pg_last_wal_replay_lsn() >= $1::text::pg_lsn AS replayed
"""
# A replica down, unreachable, refusing us, or not a replica at all.
_REPLICA_FAILED: tuple[type[Exception], ...] = (*DATABASE_GONE, asyncpg.PostgresError)
# What a read already under way on the replica may meet: a cancellation for a conflict with
# replay (SQLSTATE 40001), a statement cancelled, the replica gone.
_LOST_ON_THE_REPLICA: tuple[type[Exception], ...] = (
    *DATABASE_GONE,
    asyncpg.exceptions.TransactionRollbackError,
    asyncpg.exceptions.QueryCanceledError,
)
# Between looks at a replica that is not there yet.
_LOOK_EVERY_S = 0.005


class _Acquired(Protocol):
    async def __aenter__(self) -> Connection: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None: ...


class ReadsConnections(Protocol):
    """Anything report code reads through: a pool, or the reports database."""

    def acquire(self) -> _Acquired: ...


# How a read was served (bounded labels): `replica`, or `primary` and why.
Served = Callable[[str, str], None]


def _not_counted(served_by: str, reason: str) -> None:
    """No metrics: nothing to count."""


class ReportsDatabase:
    """Reads for reports and exports: on the replica when one is configured and current (it has
    replayed the primary's position at the start of the read, waiting up to `wait_s`), else on
    the primary, so a report never misses a write committed before it was asked for. Falling
    back is logged once when it starts and once when the replica serves again."""

    def __init__(
        self,
        primary: asyncpg.Pool,
        replica: asyncpg.Pool | None,
        *,
        wait_s: float,
        served: Served = _not_counted,
    ) -> None:
        self._primary = primary
        self._replica = replica
        self._wait_s = wait_s
        self._served = served
        self._falling_back: str | None = None

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        if self._replica is None:
            async with self._primary.acquire() as connection:
                yield connection
            return
        replica = await self._current_replica(self._replica)
        if replica is None:
            async with self._primary.acquire() as connection:
                yield connection
            return
        try:
            yield replica
        except _LOST_ON_THE_REPLICA as exc:
            # A read the standby cancelled (a conflict with replay) or lost: asking again works.
            raise Unavailable(
                f"the reports replica could not finish this read ({exc}); retry"
            ) from exc
        finally:
            await self._replica.release(replica)

    async def _current_replica(self, pool: asyncpg.Pool) -> PoolConnectionProxy[Any] | None:
        """A replica connection that has every commit the primary has now, or None (why: in the
        log and the metric)."""
        async with self._primary.acquire() as primary:
            position = await primary.fetchval(PRIMARY_POSITION)
        deadline = time.monotonic() + self._wait_s
        connection: PoolConnectionProxy[Any] | None = None
        try:
            async with asyncio.timeout(self._wait_s + 1.0):
                connection = await pool.acquire()
                behind = await _behind(connection, position, deadline)
                if behind is not None:
                    await pool.release(connection)
                    self._fall_back(behind, f"it has not replayed the primary's {position}")
                    return None
        except _REPLICA_FAILED as exc:
            if connection is not None:
                await pool.release(connection)
            self._fall_back("away", repr(exc))
            return None
        if self._falling_back is not None:
            logger.info("reports: the replica serves again (was %s)", self._falling_back)
            self._falling_back = None
        self._served("replica", "current")
        return connection

    def _fall_back(self, reason: str, detail: str) -> None:
        if self._falling_back != reason:
            logger.warning("reports: read on the primary, the replica is %s: %s", reason, detail)
            self._falling_back = reason
        self._served("primary", reason)


async def _behind(connection: Connection, position: str, deadline: float) -> str | None:
    """Why the replica cannot serve a read that must see the primary's `position`: `lag` (not
    replayed by `deadline`), `not_replica` (a database of its own); None when it can."""
    while True:
        state = returned(await connection.fetchrow(REPLAYED_SINCE, position))
        if not state["replica"]:
            return "not_replica"
        if state["replayed"]:
            return None
        if time.monotonic() >= deadline:
            return "lag"
        await asyncio.sleep(_LOOK_EVERY_S)
