"""Daily presence per user and place: rolled up for closed days, computed live for the rest."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from models.background import pause
from models.database import DATABASE_GONE, Connection

logger = logging.getLogger(__name__)

# Reports: rolled-up days that are not stale, plus stale days and today computed live by the
# database's presence_by_day() (migration 0003). $1 now, $2 count open stays, $3 place kind,
# $4 place ids, $5..$6 first and last day, $7 today (local to the places).
SELECT_DAILY_PRESENCE = """
WITH stale AS (
    SELECT place_id, day FROM presence_daily_stale
    WHERE place_kind = $3 AND place_id = ANY($4::text[]) AND day BETWEEN $5 AND $6 AND day < $7
),
live AS (
    SELECT place_id, day FROM stale
    UNION
    SELECT p, $7::date FROM unnest($4::text[]) AS p WHERE $7::date BETWEEN $5 AND $6
),
keys AS (
    SELECT coalesce(array_agg(place_id ORDER BY place_id, day), '{}') AS ids,
           coalesce(array_agg(day ORDER BY place_id, day), '{}') AS days
    FROM live
)
SELECT p.place_id, p.day, p.user_id, p.seconds, p.entries, p.first_in, p.last_out
FROM keys AS k,
     presence_by_day(array_fill($3::text, ARRAY[cardinality(k.ids)]), k.ids, k.days, $1, $2)
     AS p
UNION ALL
SELECT r.place_id, r.day, r.user_id, r.seconds, r.entries, r.first_in, r.last_out
FROM presence_daily AS r
WHERE r.place_kind = $3 AND r.place_id = ANY($4::text[]) AND r.day BETWEEN $5 AND $6
  AND r.day < $7
  AND NOT EXISTS (SELECT FROM stale AS s WHERE s.place_id = r.place_id AND s.day = r.day)
"""

# The rollup job claims stale days that are over in their place's time zone; several nodes
# may run it at once (SKIP LOCKED).
CLAIM_STALE_DAYS = """
DELETE FROM presence_daily_stale AS st
WHERE (st.place_kind, st.place_id, st.day) IN (
    SELECT m.place_kind, m.place_id, m.day
    FROM presence_daily_stale AS m
    LEFT JOIN schools AS sc ON m.place_kind = 'school' AND sc.id = m.place_id
    WHERE m.day < (now() AT TIME ZONE coalesce(sc.time_zone, 'UTC'))::date
    ORDER BY m.day
    LIMIT $1
    FOR UPDATE OF m SKIP LOCKED
)
RETURNING st.place_kind, st.place_id, st.day
"""

DELETE_ROLLUPS = """
DELETE FROM presence_daily AS r
USING unnest($1::text[], $2::text[], $3::date[]) AS k(place_kind, place_id, day)
WHERE r.place_kind = k.place_kind AND r.place_id = k.place_id AND r.day = k.day
"""

INSERT_ROLLUPS = """
INSERT INTO presence_daily (place_kind, place_id, day, user_id, seconds, entries, first_in,
                            last_out)
SELECT * FROM presence_by_day($1, $2, $3, now(), false)
"""

ROLLUP_BATCH_DAYS = 200
_RETRYABLE: tuple[type[Exception], ...] = (*DATABASE_GONE, asyncpg.PostgresError)


@dataclass(frozen=True, slots=True)
class DailyPresence:
    """One user's time in one place on one local day (overlapping stays counted once)."""

    place_id: str
    day: date
    user_id: str
    seconds: float
    entries: int
    first_in: datetime
    last_out: datetime


async def fetch_daily_presence(
    connection: Connection,
    *,
    place_kind: str,
    place_ids: list[str],
    first: date,
    last: date,
    today: date,
    now: datetime,
    count_open: bool,
) -> list[DailyPresence]:
    """Each user's daily presence in the places from `first` to `last` (local days).

    `count_open` counts a stay still open up to `now` on today; otherwise only closed ones.
    """
    rows = await connection.fetch(
        SELECT_DAILY_PRESENCE,
        now,
        count_open,
        place_kind,
        place_ids,
        first,
        last,
        today,
    )
    return [DailyPresence(*row) for row in rows]


async def roll_up_stale_days(connection: Connection) -> int:
    """Redo the rollups of up to ROLLUP_BATCH_DAYS stale days; return how many were redone."""
    async with connection.transaction():
        claimed = await connection.fetch(CLAIM_STALE_DAYS, ROLLUP_BATCH_DAYS)
        if not claimed:
            return 0
        keys = (
            [row["place_kind"] for row in claimed],
            [row["place_id"] for row in claimed],
            [row["day"] for row in claimed],
        )
        await connection.execute(DELETE_ROLLUPS, *keys)
        await connection.execute(INSERT_ROLLUPS, *keys)
    return len(claimed)


async def roll_up_all(pool: asyncpg.Pool) -> int:
    """Redo every stale day that is over; return how many days were redone."""
    total = 0
    while True:
        async with pool.acquire() as connection:
            done = await roll_up_stale_days(connection)
        total += done
        if done < ROLLUP_BATCH_DAYS:
            return total


async def keep_rolling_up(pool: asyncpg.Pool, *, every_s: float, stopping: asyncio.Event) -> None:
    """The supervised rollup job: redo stale days every `every_s` until `stopping`.

    A failed round (database away, a bad row) is logged and tried again next round; reports stay
    right meanwhile, because they compute stale days live.
    """
    while not stopping.is_set():
        try:
            done = await roll_up_all(pool)
            if done:
                logger.info("rollups: redid %d stale days", done)
        except _RETRYABLE as exc:
            logger.warning("rollups failed, will retry: %r", exc)
        await pause(stopping, every_s)
