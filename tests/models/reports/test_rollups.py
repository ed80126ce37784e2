"""The rollup job against a real PostgreSQL: one place's failing day never holds back others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from models.domain.records import org_place
from models.reports.rollups import roll_up_all
from tests.support.records import create_breakout

# A fault injected in PostgreSQL itself: rollup rows of one breakout cannot be written.
POISON = """
CREATE TABLE test_poisoned_places (place_id text PRIMARY KEY);
CREATE FUNCTION refuse_poisoned_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM test_poisoned_places WHERE place_id = NEW.place_id) THEN
        RAISE EXCEPTION 'injected rollup failure';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poisoned_rollup BEFORE INSERT ON presence_daily
FOR EACH ROW EXECUTE FUNCTION refuse_poisoned_rollup();
"""
CURE = """
DROP TRIGGER refuse_poisoned_rollup ON presence_daily;
DROP FUNCTION refuse_poisoned_rollup();
DROP TABLE test_poisoned_places;
"""


async def a_day_of_attendance(db: asyncpg.Pool, breakout: str) -> None:
    # Noon, so that the hour never spans midnight whenever the suite runs.
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=12, minute=0)
    async with db.acquire() as connection:
        await connection.execute(
            "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,"
            " exit_reason, org_id, user_name) VALUES ('u1', $1, 's1', $2, $3, 'leave', 'org-a',"
            " 'Ada')",
            breakout,
            day,
            day + timedelta(hours=1),
        )


async def stale_days(db: asyncpg.Pool, breakout: str) -> list[asyncpg.Record]:
    async with db.acquire() as connection:
        return await connection.fetch(
            "SELECT failed_at FROM presence_daily_stale WHERE place_id = $1",
            org_place("org-a", breakout),
        )


async def rolled_up(db: asyncpg.Pool, breakout: str) -> int:
    async with db.acquire() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM presence_daily WHERE place_id = $1",
            org_place("org-a", breakout),
        )
    return count


async def test_a_failing_place_never_holds_back_the_others(db: asyncpg.Pool) -> None:
    poisoned, healthy = await create_breakout(db), await create_breakout(db)
    await a_day_of_attendance(db, poisoned)
    await a_day_of_attendance(db, healthy)
    async with db.acquire() as connection:
        await connection.execute(POISON)
        await connection.execute(
            "INSERT INTO test_poisoned_places VALUES ($1)", org_place("org-a", poisoned)
        )
    try:
        await roll_up_all(db)
        assert await rolled_up(db, healthy) == 1
        assert await rolled_up(db, poisoned) == 0
        [kept] = await stale_days(db, poisoned)
        assert kept["failed_at"] is not None  # stale still, tried again in an hour
        await roll_up_all(db)  # the next round does not spin on it
        assert len(await stale_days(db, poisoned)) == 1
    finally:
        async with db.acquire() as connection:
            await connection.execute(CURE)


async def test_a_long_stay_marks_only_the_days_reports_can_count(db: asyncpg.Pool) -> None:
    """Reports look for stays at most 7 days before a day: a stay of 100 days marks 9 days
    stale, not 101 (a visit from the year 1500 once marked 192,454)."""
    breakout = await create_breakout(db)
    began = datetime.now(UTC) - timedelta(days=100)
    async with db.acquire() as connection:
        await connection.execute(
            "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,"
            " exit_reason, org_id) VALUES ('u1', $1, 's1', $2, now(), 'leave', 'org-a')",
            breakout,
            began,
        )
    assert len(await stale_days(db, breakout)) == 9


async def test_a_resumed_session_counts_its_stretches_not_its_gaps(db: asyncpg.Pool) -> None:
    """10:00-11:00 with the client away 10:20-10:30 (resumed): 50 minutes, one entry."""
    breakout = await create_breakout(db)
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=10, minute=0, second=0)
    minute = timedelta(minutes=1)
    async with db.acquire() as connection:
        await connection.execute(
            "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,"
            " exit_reason, org_id, interruptions, interrupted_seconds)"
            " VALUES ('u1', $1, 's1', $2, $3, 'leave', 'org-a', 1, 600)",
            breakout,
            day,
            day + 60 * minute,
        )
        await connection.execute(
            "INSERT INTO session_interruptions (user_id, breakout_id, session_id, left_at,"
            " back_at) VALUES ('u1', $1, 's1', $2, $3)",
            breakout,
            day + 20 * minute,
            day + 30 * minute,
        )
        [row] = await connection.fetch(
            "SELECT seconds, entries, first_in, last_out FROM presence_by_day("
            "ARRAY['breakout'], ARRAY[$1], ARRAY[$2::date], now(), false)",
            org_place("org-a", breakout),
            day.date(),
        )
        duration = await connection.fetchval(
            "SELECT duration_seconds FROM attended WHERE breakout_id = $1", breakout
        )
    assert (row["seconds"], row["entries"]) == (3000, 1)
    assert (row["first_in"], row["last_out"]) == (day, day + 60 * minute)
    assert duration == 3000
