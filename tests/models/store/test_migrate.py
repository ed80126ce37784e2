from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from models.store.migrate import apply_migrations, available_migrations
from tests.support.records import create_breakout


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
