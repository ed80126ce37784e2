"""Breakouts, each an organisation's (key: org_id, id): reading them, creating them on first join
when allowed, and a short-lived cache."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from models.domain.access import HOST, HOSTS, SESSION_READERS, require_role
from models.domain.errors import NotFound, Unavailable
from models.domain.records import Breakout, BreakoutSpec, BreakoutState, Identity, org_place
from models.store.database import DATABASE_GONE, Connection, record_of, returned

SELECT_BREAKOUT = """
SELECT id, org_id, name, ended_at, device_limit, starts_at, ends_at, present_min_minutes,
       present_min_percent
FROM breakouts WHERE org_id = $1 AND id = $2
"""
# DO NOTHING: when two nodes create the same breakout at once, the first one's row stands.
INSERT_BREAKOUT = """
INSERT INTO breakouts (org_id, id, name) VALUES ($1, $2, $2)
ON CONFLICT (org_id, id) DO NOTHING
"""


# Idempotent: ending an ended breakout keeps its first end time.
# Ending waits for every batch that is opening a session there (they hold the breakout's row
# FOR SHARE, WRITE_SESSIONS) and then ends it no earlier than the last of those opens: a join
# racing the end on another node either opens before the end, or not at all.
LOCK_BREAKOUT = "SELECT ended_at FROM breakouts WHERE org_id = $1 AND id = $2 FOR UPDATE"
END_BREAKOUT = """
UPDATE breakouts
SET ended_at = coalesce(ended_at, greatest($3, (
        SELECT max(s.entry_ts) FROM attendance_sessions AS s
        WHERE s.org_id = $1 AND s.breakout_id = $2
          AND s.entry_ts >= breakout_record_begins($1, $2))))
WHERE org_id = $1 AND id = $2
RETURNING id, org_id, name, ended_at, device_limit, starts_at, ends_at, present_min_minutes,
       present_min_percent
"""

# Creates the breakout in the caller's org, or updates it.
PUT_BREAKOUT = """
INSERT INTO breakouts (org_id, id, name, starts_at, ends_at, device_limit, present_min_minutes,
                       present_min_percent)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (org_id, id) DO UPDATE
SET name = EXCLUDED.name, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
    device_limit = EXCLUDED.device_limit, present_min_minutes = EXCLUDED.present_min_minutes,
    present_min_percent = EXCLUDED.present_min_percent
RETURNING id, org_id, name, ended_at, device_limit, starts_at, ends_at, present_min_minutes,
       present_min_percent
"""

# One page of an org's breakouts by id, after $2: those whose id or name holds $3 (a LIKE
# pattern), in state $4 at $5, held (scheduled, or else created, until ended) over [$6, $7).
SEARCH_BREAKOUTS = """
SELECT id, org_id, name, ended_at, device_limit, starts_at, ends_at, present_min_minutes,
       present_min_percent
FROM breakouts
WHERE org_id = $1 AND id > $2
  AND ($3::text IS NULL OR id ILIKE $3 OR name ILIKE $3)
  AND ($4::text IS NULL OR $4 = CASE
        WHEN ended_at IS NOT NULL OR ends_at <= $5 THEN 'ended'
        WHEN starts_at > $5 THEN 'scheduled'
        ELSE 'live' END)
  AND ($6::timestamptz IS NULL OR coalesce(ended_at, ends_at, 'infinity') >= $6)
  AND ($7::timestamptz IS NULL OR coalesce(starts_at, created_at) < $7)
ORDER BY id
LIMIT $8
"""


@dataclass(frozen=True, slots=True)
class BreakoutSearch:
    """Which of an org's breakouts to list: text in the id or name, a state, a time range."""

    text: str | None = None
    state: BreakoutState | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: str = ""
    limit: int = 100


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _breakout(row: asyncpg.Record) -> Breakout:
    return record_of(Breakout, row)


async def fetch_breakout(connection: Connection, org_id: str, breakout_id: str) -> Breakout | None:
    row = await connection.fetchrow(SELECT_BREAKOUT, org_id, breakout_id)
    return None if row is None else _breakout(row)


async def create_breakout(connection: Connection, org_id: str, breakout_id: str) -> Breakout:
    """Create the breakout in `org_id` unless it exists; return whichever row stands."""
    await connection.execute(INSERT_BREAKOUT, org_id, breakout_id)
    created = await fetch_breakout(connection, org_id, breakout_id)
    if created is None:
        raise NotFound(f"breakout {breakout_id} could not be created")
    return created


class BreakoutDirectory:
    """Finds an organisation's breakouts for joins and reads, remembering each for `cache_s`.

    Joins come in storms at the start of a class; the cache keeps them from each costing a
    round trip for a row that rarely changes.
    """

    def __init__(
        self, pool: asyncpg.Pool, *, auto_create: bool, cache_s: float, cache_size: int = 10_000
    ) -> None:
        self._pool = pool
        self._auto_create = auto_create
        self._cache_s = cache_s
        self._cache_size = cache_size
        self._cache: OrderedDict[str, tuple[float, Breakout]] = OrderedDict()

    async def get(self, org_id: str, breakout_id: str) -> Breakout:
        """The org's breakout, or NotFound (another org's of the same id is none of its)."""
        found = await self._lookup(org_id, breakout_id)
        if found is None:
            raise NotFound(f"breakout {breakout_id} does not exist")
        return found

    async def get_or_create(self, breakout_id: str, identity: Identity) -> Breakout:
        """The breakout of the identity's org, created there when unknown and auto-create is on.

        Callers check first that the identity's role may create it (join or host)."""
        found = await self._lookup(identity.org_id, breakout_id)
        if found is not None:
            return found
        if not self._auto_create:
            raise NotFound(f"breakout {breakout_id} does not exist")
        async with self._pool.acquire() as connection:
            created = await create_breakout(connection, identity.org_id, breakout_id)
        self._remember(created)
        return created

    def forget(self, org_id: str, breakout_id: str) -> None:
        self._cache.pop(org_place(org_id, breakout_id), None)

    async def put(self, identity: Identity, breakout_id: str, spec: BreakoutSpec) -> Breakout:
        """Create or update a breakout of the identity's org (host or admin)."""
        require_role(identity, HOSTS, HOST)
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(
                PUT_BREAKOUT,
                identity.org_id,
                breakout_id,
                spec.name,
                spec.starts_at,
                spec.ends_at,
                spec.device_limit,
                spec.present_min_minutes,
                spec.present_min_percent,
            )
        stored = _breakout(returned(row))
        self._remember(stored)
        return stored

    async def search(
        self, identity: Identity, wanted: BreakoutSearch, now: datetime
    ) -> list[Breakout]:
        """A page of the identity's org's breakouts by id (analysts, hosts and admins)."""
        require_role(identity, SESSION_READERS, "list breakouts")
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                SEARCH_BREAKOUTS,
                identity.org_id,
                wanted.after,
                None if wanted.text is None else _like(wanted.text),
                None if wanted.state is None else wanted.state.value,
                now,
                wanted.since,
                wanted.until,
                wanted.limit,
            )
        return [_breakout(row) for row in rows]

    async def end(self, org_id: str, breakout_id: str, at: datetime) -> Breakout:
        """Mark the breakout ended at `at`, or at the latest entry if a session opened after
        that (or keep the earlier end); return it."""
        async with self._pool.acquire() as connection, connection.transaction():
            # Its own statement: the end's snapshot then sees the opens it waited for.
            await connection.execute(LOCK_BREAKOUT, org_id, breakout_id)
            row = await connection.fetchrow(END_BREAKOUT, org_id, breakout_id, at)
        if row is None:
            raise NotFound(f"breakout {breakout_id} does not exist")
        ended = _breakout(row)
        self._remember(ended)
        return ended

    async def _lookup(self, org_id: str, breakout_id: str) -> Breakout | None:
        place = org_place(org_id, breakout_id)
        cached = self._cache.get(place)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            async with self._pool.acquire() as connection:
                found = await fetch_breakout(connection, org_id, breakout_id)
        except DATABASE_GONE as exc:
            if cached is None:
                raise Unavailable("the attendance database is unavailable; try again") from exc
            # The writer journals while the database is away; joins to a breakout this node
            # knows keep working on what it last read.
            return cached[1]
        if found is not None:
            self._remember(found)
        return found

    def _remember(self, breakout: Breakout) -> None:
        self._cache[breakout.place] = (time.monotonic() + self._cache_s, breakout)
        self._cache.move_to_end(breakout.place)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
