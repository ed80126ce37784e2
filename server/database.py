"""Where the database is: DATABASE_URL, or an embedded PostgreSQL under VAR_DIR; and its pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from config import Settings
from models.store.migrate import apply_migrations
from server.embedded.postgres import EmbeddedPostgres

logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def database_url(settings: Settings) -> AsyncIterator[str]:
    """The configured URL, or one of an embedded server started for the duration."""
    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.var_dir / "pg")
    running = await asyncio.to_thread(embedded.start)
    logger.info("using embedded PostgreSQL at %s", running.url)
    try:
        yield running.url
    finally:
        await asyncio.to_thread(embedded.stop)


async def open_pool(url: str, size: int) -> asyncpg.Pool:
    """A pool on a migrated database."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url, min_size=min(2, size), max_size=size, command_timeout=30
    )
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection)
    except BaseException:
        await pool.close()
        raise
    return pool
