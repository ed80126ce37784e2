"""The rollup job: daily presence per user and place, redone for days whose rows changed."""

from __future__ import annotations

import logging

import asyncpg

from models.store.database import Connection

logger = logging.getLogger(__name__)

# The rollup job claims stale days that are over in their place's time zone, or whose place
# nobody is in any more (a breakout after its class, a school in the evening): a day counted
# while someone is in stays live, because open stays count only there. Several nodes may run
# the job at once (SKIP LOCKED).
CLAIM_STALE_DAYS = """
DELETE FROM presence_daily_stale AS st
WHERE (st.place_kind, st.place_id, st.day) IN (
    SELECT m.place_kind, m.place_id, m.day
    FROM presence_daily_stale AS m
    LEFT JOIN schools AS sc
      ON m.place_kind = 'school'
     AND sc.org_id = split_part(m.place_id, '/', 1) AND sc.id = split_part(m.place_id, '/', 2)
    WHERE (m.failed_at IS NULL OR m.failed_at < now() - interval '1 hour')
      AND (m.day < (now() AT TIME ZONE coalesce(sc.time_zone, 'UTC'))::date
       OR (m.place_kind IN ('breakout', 'recording') AND NOT EXISTS (
              SELECT FROM attendance_sessions AS o
              WHERE o.org_id = split_part(m.place_id, '/', 1)
                AND o.breakout_id = split_part(m.place_id, '/', 2) AND o.exit_ts IS NULL))
       OR (m.place_kind = 'school' AND NOT EXISTS (
              SELECT FROM school_visits AS o
              WHERE o.org_id = split_part(m.place_id, '/', 1)
                AND o.school_id = split_part(m.place_id, '/', 2) AND o.exit_ts IS NULL)))
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
INSERT INTO presence_daily (place_kind, place_id, day, user_id, user_name, seconds, entries,
                            first_in, last_out)
SELECT * FROM presence_by_day($1, $2, $3, now(), false)
"""

# A day whose rollup failed: stale again, tried after an hour (the claim skips it till then).
MARK_FAILED = """
INSERT INTO presence_daily_stale (place_kind, place_id, day, failed_at) VALUES ($1, $2, $3, now())
ON CONFLICT (place_kind, place_id, day) DO UPDATE SET failed_at = now()
"""

ROLLUP_BATCH_DAYS = 200


async def _redo(connection: Connection, days: list[asyncpg.Record]) -> None:
    keys = (
        [row["place_kind"] for row in days],
        [row["place_id"] for row in days],
        [row["day"] for row in days],
    )
    await connection.execute(DELETE_ROLLUPS, *keys)
    await connection.execute(INSERT_ROLLUPS, *keys)


async def roll_up_stale_days(connection: Connection) -> tuple[int, int]:
    """Redo the rollups of up to ROLLUP_BATCH_DAYS stale days: how many were claimed, and how
    many of them redone. One place's failing day never holds back the others: the batch is
    then redone a day at a time, and a day that fails stays stale, tried again in an hour."""
    async with connection.transaction():
        claimed = await connection.fetch(CLAIM_STALE_DAYS, ROLLUP_BATCH_DAYS)
        if not claimed:
            return 0, 0
        try:
            async with connection.transaction():  # a savepoint
                await _redo(connection, claimed)
            return len(claimed), len(claimed)
        except asyncpg.PostgresError:
            pass
        redone = 0
        for day in claimed:
            try:
                async with connection.transaction():
                    await _redo(connection, [day])
                redone += 1
            except asyncpg.PostgresError as exc:
                logger.warning(
                    "rollup of %s %s on %s failed, tried again in an hour: %s",
                    day["place_kind"],
                    day["place_id"],
                    day["day"],
                    exc,
                )
                await connection.execute(MARK_FAILED, *day)
        return len(claimed), redone


async def roll_up_all(pool: asyncpg.Pool) -> int:
    """Redo every stale day that is over; return how many days were redone."""
    total = 0
    while True:
        async with pool.acquire() as connection:
            claimed, redone = await roll_up_stale_days(connection)
        total += redone
        if claimed < ROLLUP_BATCH_DAYS:
            return total


async def roll_up_round(pool: asyncpg.Pool) -> None:
    """One round of the rollup loop: redo every stale day that is over.

    Reports stay right while a round fails (the database away, a bad row): they compute stale
    days live; the next round tries again.
    """
    done = await roll_up_all(pool)
    if done:
        logger.info("rollups: redid %d stale days", done)
