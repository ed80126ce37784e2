from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from models.reports.rollups import roll_up_stale_days
from models.store.migrate import apply_migrations, available_migrations
from tests.support.records import create_breakout
from tests.support.servers import private_postgres


def test_migration_files_are_numbered_in_order() -> None:
    found = available_migrations()
    assert [m.version for m in found] == sorted(m.version for m in found)
    assert found[0].version == 1 and found[0].name == "core"


async def test_applying_twice_applies_nothing_the_second_time(migrated_url: str) -> None:
    connection = await asyncpg.connect(migrated_url)
    try:
        assert await apply_migrations(connection) == []
        versions = await connection.fetch("SELECT version FROM schema_migrations")
        assert {row["version"] for row in versions} >= {1}
    finally:
        await connection.close()


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_core.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="NNNN_name"):
        available_migrations(tmp_path)


async def test_attended_view_needs_both_timestamps(db: asyncpg.Pool) -> None:
    breakout = await create_breakout(db, "o")
    async with db.acquire() as connection:
        await connection.execute(
            "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, org_id,"
            " exit_ts, exit_reason) VALUES "
            "('u1', $1, 's1', '2026-01-01T10:00Z', 'o', '2026-01-01T10:30Z', 'leave'),"
            "('u2', $1, 's2', '2026-01-01T10:00Z', 'o', NULL, NULL)",
            breakout,
        )
        rows = await connection.fetch(
            "SELECT user_id, duration_seconds FROM attended WHERE breakout_id = $1", breakout
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(
                "UPDATE attendance_sessions SET exit_ts = entry_ts - interval '1 s',"
                " exit_reason = 'leave' WHERE breakout_id = $1 AND session_id = 's2'",
                breakout,
            )
    assert [(r["user_id"], r["duration_seconds"]) for r in rows] == [("u1", 1800.0)]


async def test_keying_breakouts_by_org_keeps_every_existing_row(tmp_path: Path) -> None:
    """Migration 0006 on an install that has data: nothing is lost, rollups follow the new key,
    and afterwards two orgs may share an id."""
    before = tmp_path / "before"
    before.mkdir()
    for migration in available_migrations():
        if migration.version < 6:
            (before / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    with private_postgres("attendance-migrate-") as embedded:
        connection = await asyncpg.connect(embedded.start().url)
        try:
            await apply_migrations(connection, before)
            await connection.execute(
                "INSERT INTO breakouts (id, org_id) VALUES ('maths-101', 'org-a');"
                "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts,"
                " exit_ts, exit_reason, org_id) VALUES ('u1', 'maths-101', 's1',"
                " '2026-01-05T10:00Z', '2026-01-05T11:00Z', 'leave', 'org-a')"
            )
            await roll_up_all_on(connection)
            assert await connection.fetchval("SELECT place_id FROM presence_daily") == "maths-101"

            await apply_migrations(connection)

            assert await connection.fetchval("SELECT count(*) FROM attendance_sessions") == 1
            assert await connection.fetchval("SELECT place_id FROM presence_daily") == (
                "org-a/maths-101"
            )
            daily = await connection.fetchrow("SELECT place_id, org_id FROM daily_presence")
            assert tuple(daily) == ("maths-101", "org-a")
            await connection.execute(
                "INSERT INTO breakouts (id, org_id) VALUES ('maths-101', 'org-b')"
            )
            assert await connection.fetchval("SELECT count(*) FROM breakouts") == 2
        finally:
            await connection.close()


async def roll_up_all_on(connection: asyncpg.Connection) -> None:
    while await roll_up_stale_days(connection) != (0, 0):
        pass
