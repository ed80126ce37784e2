"""The demo data generator writes consistent, realistic rows into the real database."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from models.jobs.seed import SeedPlan, seed
from models.reports.rollups import roll_up_all


async def test_seeded_data_is_consistent(db: asyncpg.Pool) -> None:
    plan = SeedPlan(
        org_id="seed-test",
        schools=2,
        users_per_school=30,
        days=14,
        breakouts=3,
        attendees_per_breakout=40,
        last_day=date(2026, 3, 20),
    )
    async with db.acquire() as connection:
        counts = await seed(connection, plan)
        checks = await connection.fetchrow(
            """
            SELECT count(*) FILTER (WHERE v.exit_ts < v.entry_ts) AS backwards,
                   count(*) FILTER (WHERE i.kind <> 'checkin' OR o.kind <> 'checkout') AS mixed,
                   count(*) AS visits,
                   count(DISTINCT v.user_id) AS pupils
            FROM school_visits AS v
            JOIN check_events AS i ON i.id = v.checkin_id
            JOIN check_events AS o ON o.id = v.checkout_id
            WHERE v.school_id LIKE 'seed-test-%'
            """
        )
        weekend = await connection.fetchval(
            "SELECT count(*) FROM school_visits WHERE school_id LIKE 'seed-test-%'"
            " AND extract(isodow FROM entry_ts AT TIME ZONE"
            " (SELECT time_zone FROM schools WHERE id = school_id)) > 5"
        )
        devices = await connection.fetchval(
            "SELECT count(DISTINCT device_type) FROM attendance_sessions WHERE org_id = $1",
            "seed-test",
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await seed(connection, plan)  # the same org twice is refused, not doubled
    assert counts.schools == 2 and counts.users == 60 and counts.breakouts == 3
    assert counts.check_events == 2 * checks["visits"]
    assert checks["backwards"] == 0 and checks["mixed"] == 0 and weekend == 0
    # 10 school days: most pupils came most days, some were absent on some.
    assert checks["pupils"] == 60 and 0.8 * 600 < checks["visits"] < 1.1 * 600
    assert counts.sessions > 3 * 40 * 0.95 and devices == 2
    assert await roll_up_all(db) > 0
