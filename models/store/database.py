"""What the repositories share about PostgreSQL: the connection type and "the database is gone"."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

T = TypeVar("T")
logger = logging.getLogger(__name__)

# A repository function works on a plain connection and on one borrowed from a pool alike.
# (Subscripted only for the type checker: asyncpg's classes are not generic at run time.)
Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

# Errors meaning "the database is not there right now", as opposed to "it refused this row".
DATABASE_GONE: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    # Shutting down, crashed, or restarting: "admin shutdown", "cannot connect now", no slots.
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # A pooled connection the server dropped mid-protocol ("cannot switch to state ...").
    asyncpg.InternalClientError,
)


def returned(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row a statement with RETURNING always gives back (the type checker cannot know)."""
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


@functools.cache
def _field_names(record_type: type) -> tuple[str, ...]:
    return tuple(field.name for field in fields(record_type))


def record_of(record_type: Callable[..., T], row: asyncpg.Record, **computed: Any) -> T:
    """The dataclass record of a row whose columns are named as the record's fields; `computed`
    gives the fields that are not a plain column (an enum, a nested record, a derived value)."""
    names = _field_names(record_type)
    return record_type(**{name: row[name] for name in names if name not in computed}, **computed)


async def database_answers(pool: asyncpg.Pool, timeout_s: float) -> bool:
    """Whether the database answers a trivial query within `timeout_s` (the reason goes to the
    log)."""
    try:
        async with asyncio.timeout(timeout_s):
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
    except Exception as exc:  # any failure means "not reachable"
        logger.warning("database not reachable: %s", exc)
        return False
    return True
