"""What the repositories share about PostgreSQL: the connection type and "the database is gone"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

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
