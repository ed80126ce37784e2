"""Where the database is: DATABASE_URL, or an embedded PostgreSQL under VAR_DIR; and its pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from config import PoolReset, Settings
from models.runtime.loops import Loop
from models.runtime.metrics import Metrics
from models.store.migrate import apply_migrations
from server.embedded.postgres import EmbeddedPostgres

logger = logging.getLogger(__name__)


# How often a server checks that its embedded PostgreSQL is still up.
EMBEDDED_CHECK_S = 5.0


@contextlib.asynccontextmanager
async def database_url(
    settings: Settings, *, metrics: Metrics | None = None, keep_up: bool = False
) -> AsyncIterator[str]:
    """The configured URL, or one of an embedded server used for the duration (started if it
    is not running; on the way out stopped only if nobody else uses it).

    With `keep_up` (a server), an embedded PostgreSQL that dies is started again on its port:
    the writer journals meanwhile and replays once it is back."""
    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.var_dir / "pg")
    running = await asyncio.to_thread(embedded.start)
    logger.info("using embedded PostgreSQL at %s", running.url)
    watchdog = None
    if keep_up:

        async def restart_if_down() -> None:
            if await asyncio.to_thread(embedded.running) is None:
                logger.warning("embedded PostgreSQL is down; starting it again")
                await asyncio.to_thread(embedded.start, running.port)

        watchdog = Loop(
            "embedded-postgres", restart_if_down, every_s=EMBEDDED_CHECK_S, metrics=metrics
        )
        watchdog.start()
    try:
        yield running.url
    finally:
        if watchdog is not None:
            await watchdog.stop()
        await asyncio.to_thread(embedded.stop)


async def _rollback_only(_: object) -> None:
    """A connection back in the pool: asyncpg has already rolled back a transaction left open;
    nothing else is needed, since our code keeps no session state (no LISTEN, no session-level
    SET, advisory locks held by a transaction or released in a `finally`)."""


async def open_pool(url: str, size: int, reset: PoolReset = PoolReset.FULL) -> asyncpg.Pool:
    """A pool on a migrated database. `reset` (DB_POOL_RESET): what each release costs."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=min(2, size),
        max_size=size,
        command_timeout=30,
        reset=_rollback_only if reset is PoolReset.ROLLBACK else None,
    )
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection)
    except BaseException:
        await pool.close()
        raise
    return pool


# A replica that does not answer must not hold a report up for long.
REPLICA_CONNECT_TIMEOUT_S = 2.0


async def open_replica_pool(url: str, size: int) -> asyncpg.Pool:
    """A pool on a read-only replica: no migrations (the primary's reach it by replication), and
    no connection made up front, so a replica that is away at start costs nothing but falling
    back (models/store/replica.py)."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=0,
        max_size=size,
        command_timeout=30,
        timeout=REPLICA_CONNECT_TIMEOUT_S,
        reset=_rollback_only,
    )
    return pool
