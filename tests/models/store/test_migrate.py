from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

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


def migrations_before(version: int, directory: Path) -> Path:
    """A directory of the migrations older than `version`: an install as it was then."""
    directory.mkdir()
    for migration in available_migrations():
        if migration.version < version:
            (directory / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    return directory


# A rollup row as the job of the time wrote it (today's job reads today's schema).
ROLLED_UP = """
INSERT INTO presence_daily (place_kind, place_id, day, user_id, seconds, entries, first_in,
                            last_out)
VALUES ($1, $2, '2026-01-05', $3, 3600, 1, '2026-01-05T10:00Z', '2026-01-05T11:00Z')
"""


async def test_keying_breakouts_by_org_keeps_every_existing_row(tmp_path: Path) -> None:
    """Migration 0006 on an install that has data: nothing is lost, rollups follow the new key,
    and afterwards two orgs may share an id."""
    with private_postgres("attendance-migrate-") as embedded:
        connection = await asyncpg.connect(embedded.start().url)
        try:
            await apply_migrations(connection, migrations_before(6, tmp_path / "before"))
            await connection.execute(
                "INSERT INTO breakouts (id, org_id) VALUES ('maths-101', 'org-a');"
                "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts,"
                " exit_ts, exit_reason, org_id) VALUES ('u1', 'maths-101', 's1',"
                " '2026-01-05T10:00Z', '2026-01-05T11:00Z', 'leave', 'org-a')"
            )
            await connection.execute(ROLLED_UP, "breakout", "maths-101", "u1")

            await apply_migrations(connection)

            assert await connection.fetchval("SELECT count(*) FROM attendance_sessions") == 1
            assert await connection.fetchval("SELECT place_id FROM presence_daily") == (
                "org-a/maths-101"
            )
            assert await connection.fetchval("SELECT place_id FROM presence_daily_stale") == (
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


SCHOOL_DATA = """
INSERT INTO schools (id, org_id, name) VALUES ('hill', 'org-a', 'Hill');
INSERT INTO school_users (id, school_id, name) VALUES ('ada', 'hill', 'Ada');
INSERT INTO check_events (id, school_id, user_id, kind, at, temperature) VALUES
    (1, 'hill', 'ada', 'checkin', '2026-01-05T10:00Z', 38.4),
    (2, 'hill', 'ada', 'checkout', '2026-01-05T11:00Z', 36.6),
    (3, 'hill', 'ada', 'checkin', '2026-01-06T10:00Z', 36.6);
INSERT INTO school_visits (checkin_id, checkout_id, school_id, user_id, entry_ts, exit_ts) VALUES
    (1, 2, 'hill', 'ada', '2026-01-05T10:00Z', '2026-01-05T11:00Z'),
    (3, NULL, 'hill', 'ada', '2026-01-06T10:00Z', NULL);
INSERT INTO fever_alerts (event_id, school_id, user_id, temperature, at)
VALUES (1, 'hill', 'ada', 38.4, '2026-01-05T10:00Z');
"""


async def test_keying_schools_and_users_by_org_keeps_every_existing_row(tmp_path: Path) -> None:
    """Migration 0007 on an install that has data: every row keeps its org, rollups follow the
    new key, and afterwards another org may have a school "hill" with a user "ada"."""
    with private_postgres("attendance-migrate-") as embedded:
        connection = await asyncpg.connect(embedded.start().url)
        try:
            await apply_migrations(connection, migrations_before(7, tmp_path / "before"))
            await connection.execute(SCHOOL_DATA)
            await connection.execute(ROLLED_UP, "school", "hill", "ada")

            await apply_migrations(connection)

            for table in ("school_users", "check_events", "school_visits", "fever_alerts"):
                orgs = await connection.fetch(f"SELECT org_id FROM {table}")  # noqa: S608
                assert orgs and {row["org_id"] for row in orgs} == {"org-a"}, table
            assert await connection.fetchval("SELECT place_id FROM presence_daily") == (
                "org-a/hill"
            )
            stale = await connection.fetch("SELECT DISTINCT place_id FROM presence_daily_stale")
            assert [row["place_id"] for row in stale] == ["org-a/hill"]
            daily = await connection.fetchrow(
                "SELECT place_id, org_id, user_name FROM daily_presence"
            )
            assert tuple(daily) == ("hill", "org-a", "Ada")
            intervals = await connection.fetchval(
                "SELECT count(*) FROM presence_intervals"
                " WHERE place_id = 'hill' AND org_id = 'org-a'"
            )
            assert intervals == 2
            await connection.execute(
                "INSERT INTO schools (id, org_id, name) VALUES ('hill', 'org-b', 'Hill');"
                "INSERT INTO school_users (org_id, id, school_id, name)"
                " VALUES ('org-b', 'ada', 'hill', 'Ada B.')"
            )
            with pytest.raises(asyncpg.ForeignKeyViolationError):  # no school "hill" in org-c
                await connection.execute(
                    "INSERT INTO school_users (org_id, id, school_id, name)"
                    " VALUES ('org-c', 'ada', 'hill', 'Ada C.')"
                )
        finally:
            await connection.close()


RECORD_BEFORE_PARTITIONS = """
INSERT INTO breakouts (org_id, id, created_at) VALUES ('org-a', 'b1', '2026-06-01T09:00Z');
INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,
                                 exit_reason, org_id, user_name)
VALUES ('u1', 'b1', 's1', '2026-05-30T10:00Z', '2026-05-30T11:00Z', 'leave', 'org-a', 'Ada'),
       ('u2', 'b1', 's2', '2026-06-01T10:00Z', NULL, NULL, 'org-a', 'Bo');
INSERT INTO session_interruptions (user_id, breakout_id, session_id, left_at, back_at)
VALUES ('u1', 'b1', 's1', '2026-05-30T10:20Z', '2026-05-30T10:25Z');
INSERT INTO session_activity (org_id, breakout_id, user_id, session_id, at, state)
VALUES ('org-a', 'b1', 'u1', 's1', '2026-05-30T10:01Z', 'playing');
INSERT INTO comments (org_id, breakout_id, id, user_id, user_name, text, created_at)
VALUES ('org-a', 'b1', 'c1', 'u1', 'Ada', 'hello', '2026-05-30T10:02Z');
INSERT INTO schools (org_id, id, name) VALUES ('org-a', 'hill', 'Hill');
INSERT INTO school_users (org_id, id, school_id, name) VALUES ('org-a', 'ada', 'hill', 'Ada');
INSERT INTO check_events (org_id, school_id, user_id, kind, at, temperature) VALUES
    ('org-a', 'hill', 'ada', 'checkin', '2026-05-30T08:00Z', 38.4),
    ('org-a', 'hill', 'ada', 'checkout', '2026-05-30T15:00Z', 36.6);
INSERT INTO school_visits (org_id, checkin_id, checkout_id, school_id, user_id, entry_ts, exit_ts)
VALUES ('org-a', 1, 2, 'hill', 'ada', '2026-05-30T08:00Z', '2026-05-30T15:00Z');
INSERT INTO fever_alerts (org_id, event_id, school_id, user_id, temperature, at)
VALUES ('org-a', 1, 'hill', 'ada', 38.4, '2026-05-30T08:00Z');
"""


async def test_partitioning_a_running_install_keeps_every_row_in_a_legacy_partition(
    own_database_url: str, tmp_path: Path
) -> None:
    """Migration 0016 on an install that has data: each table's rows stay, now as its
    parent's `_legacy` partition; the views over them read the parents (with their grants);
    the rollup trigger fires on the parent; a breakout's record begins at its oldest row."""
    connection = await asyncpg.connect(own_database_url)
    try:
        await apply_migrations(connection, migrations_before(16, tmp_path / "before"))
        await connection.execute(RECORD_BEFORE_PARTITIONS)

        await apply_migrations(connection)

        where = await connection.fetch(
            "SELECT tableoid::regclass::text AS part, count(*) FROM attendance_sessions GROUP BY 1"
        )
        assert [tuple(row) for row in where] == [("attendance_sessions_legacy", 2)]
        for table in ("session_interruptions", "session_activity", "comments", "check_events"):
            part = await connection.fetchval(f"SELECT tableoid::regclass::text FROM {table}")  # noqa: S608
            assert part == f"{table}_legacy"
        kinds = await connection.fetch(
            "SELECT relname, relkind::text FROM pg_class WHERE relname = ANY($1::text[])",
            [
                "attendance_sessions",
                "comments",
                "session_activity",
                "session_interruptions",
                "check_events",
            ],
        )
        assert {row["relkind"] for row in kinds} == {"p"}  # partitioned tables now
        assert await connection.fetchval("SELECT count(*) FROM attended") == 1
        assert (
            await connection.fetchval("SELECT count(*) FROM session_states WHERE session_id = 's1'")
            == 1
        )
        assert await connection.fetchval(
            "SELECT has_table_privilege('attendance_analyst', 'attended', 'SELECT')"
        )
        assert await connection.fetchval(
            "SELECT sessions_from FROM breakouts WHERE id = 'b1'"
        ) == datetime(2026, 5, 30, 10, tzinfo=UTC)
        await connection.execute("DELETE FROM presence_daily_stale")
        await connection.execute(
            "UPDATE attendance_sessions SET exit_ts = '2026-06-01T11:00Z', exit_reason = 'leave'"
            " WHERE session_id = 's2'"
        )
        assert await connection.fetchval("SELECT count(*) FROM presence_daily_stale") == 1
        # Check event ids go on where they were; a visit still names its events.
        new_id = await connection.fetchval(
            "INSERT INTO check_events (org_id, school_id, user_id, kind, at, temperature)"
            " VALUES ('org-a', 'hill', 'ada', 'checkin', now(), 36.6) RETURNING id"
        )
        assert new_id == 3
        assert (
            await connection.fetchval(
                "SELECT count(*) FROM school_visits AS v"
                " JOIN check_events AS e ON e.id = v.checkin_id"
            )
            == 1
        )
    finally:
        await connection.close()


async def test_partitioning_the_rollups_keeps_every_row_and_the_analysts_view(
    own_database_url: str, tmp_path: Path
) -> None:
    """Migration 0017 on an install that has rollups: the breakouts' stay where they are (the
    legacy partition of their days), the schools' move to theirs; the analysts' view reads
    them all with its grant; new days' rollups go to the partitions made for them."""
    connection = await asyncpg.connect(own_database_url)
    try:
        await apply_migrations(connection, migrations_before(17, tmp_path / "before"))
        await connection.execute(ROLLED_UP, "breakout", "org-a/b1", "u1")
        await connection.execute(ROLLED_UP, "recording", "org-a/b1", "u1")
        await connection.execute(ROLLED_UP, "school", "org-a/hill", "ada")

        await apply_migrations(connection)

        where = await connection.fetch(
            "SELECT place_kind, tableoid::regclass::text AS part FROM presence_daily ORDER BY 1"
        )
        assert [tuple(row) for row in where] == [
            ("breakout", "presence_daily_breakouts_legacy"),
            ("recording", "presence_daily_breakouts_legacy"),
            ("school", "presence_daily_schools"),
        ]
        assert await connection.fetchval("SELECT count(*) FROM daily_presence") == 3
        assert await connection.fetchval(
            "SELECT has_table_privilege('attendance_analyst', 'daily_presence', 'SELECT')"
        )
        legacy = await connection.fetchrow(
            "SELECT lower, upper FROM time_partitions"
            " WHERE partition = 'presence_daily_breakouts_legacy'"
        )
        assert legacy["lower"] is None and legacy["upper"] >= datetime(2026, 2, 1, tzinfo=UTC)
        made = await connection.fetchval(
            "SELECT create_time_partitions('presence_daily_breakouts', 'day', 'month', $1, $2)",
            legacy["upper"],
            legacy["upper"] + timedelta(days=1),
        )
        first = legacy["upper"].strftime("%Y%m%d")
        assert made[0] == f"presence_daily_breakouts_p{first}"
        part = await connection.fetchval(
            "INSERT INTO presence_daily (place_kind, place_id, day, user_id, seconds, entries,"
            " first_in, last_out) VALUES ('breakout', 'org-a/b1', $1, 'u1', 60, 1, $2, $2)"
            " RETURNING tableoid::regclass::text",
            legacy["upper"].date(),
            legacy["upper"],
        )
        assert part == f"presence_daily_breakouts_p{first}"
    finally:
        await connection.close()
