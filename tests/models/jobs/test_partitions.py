"""The record's time partitions against a real PostgreSQL: made ahead, rows outside reported,
retention by whole partitions, and the hot path and reports reading only what they need."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from config import PartitionInterval, RetentionMode
from models.domain.records import AttendanceSession, ExitReason, SessionType
from models.jobs.partitions import create_partitions, maintain_partitions
from models.jobs.retention import purge_sessions
from models.reports.rollups import roll_up_all
from models.store import comments, sessions
from models.store.migrate import apply_migrations
from models.store.sessions import SessionExit, write_sessions
from tests.support.plans import tables_read
from tests.support.records import sample_session

NOW = datetime(2027, 3, 15, 12, tzinfo=UTC)
MONTH = PartitionInterval.MONTH


@pytest.fixture
async def own_db(own_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    connection = await asyncpg.connect(own_database_url)
    try:
        await apply_migrations(connection)
    finally:
        await connection.close()
    pool = await asyncpg.create_pool(own_database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def partitions(db: asyncpg.Pool, table: str) -> list[asyncpg.Record]:
    async with db.acquire() as connection:
        return await connection.fetch(
            "SELECT partition, lower, upper FROM time_partitions"
            " WHERE parent = $1 AND NOT is_default ORDER BY lower",
            table,
        )


async def where_is(db: asyncpg.Pool, session_id: str) -> str:
    async with db.acquire() as connection:
        return str(
            await connection.fetchval(
                "SELECT tableoid::regclass FROM attendance_sessions WHERE session_id = $1",
                session_id,
            )
        )


async def write_hour_long_stays(
    connection: asyncpg.Connection, opened: list[AttendanceSession]
) -> None:
    """The sessions, each left an hour after it began (the exit naming its entry time)."""
    closed = [
        SessionExit(
            s.user_id,
            s.breakout_id,
            s.session_id,
            s.entry_ts + timedelta(hours=1),
            ExitReason.LEAVE,
            None,
            s.entry_ts,
        )
        for s in opened
    ]
    await write_sessions(connection, opened, closed)


async def breakout_since(db: asyncpg.Pool, breakout_id: str, since: datetime) -> None:
    async with db.acquire() as connection:
        await connection.execute(
            "INSERT INTO breakouts (org_id, id, sessions_from) VALUES ('org-a', $1, $2)",
            breakout_id,
            since,
        )


SCHOOL_ROLLUP = """
INSERT INTO presence_daily (place_kind, place_id, day, user_id, user_name, seconds, entries,
                            first_in, last_out)
VALUES ('school', 'org-a/hill', ($1::timestamptz AT TIME ZONE 'UTC')::date, 'ada', 'Ada', 3600,
        1, $1, $1 + interval '1 hour')
"""


async def test_maintenance_makes_partitions_ahead_and_adopts_what_the_default_caught(
    own_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    await breakout_since(own_db, "b1", NOW - timedelta(days=400))
    early = sample_session("b1", 1, entry_ts=NOW)  # before any partition: the default holds it
    async with own_db.acquire() as connection:
        await write_sessions(connection, [early], [])
    assert await where_is(own_db, "s1") == "attendance_sessions_default"

    async with own_db.acquire() as connection:
        done = await maintain_partitions(connection, MONTH, 2, NOW)

    made = [p["partition"] for p in await partitions(own_db, "attendance_sessions")]
    assert made[:3] == [
        "attendance_sessions_p20270301",
        "attendance_sessions_p20270401",
        "attendance_sessions_p20270501",
    ]
    for table in ("session_interruptions", "session_activity", "comments"):
        assert f"{table}_p20270301" in done.made
    assert await where_is(own_db, "s1") == "attendance_sessions_p20270301"
    assert done.default_rows == dict.fromkeys(done.default_rows, 0)

    stray = sample_session("b1", 2, entry_ts=NOW - timedelta(days=365))
    async with own_db.acquire() as connection:
        await write_sessions(connection, [stray], [])
        with caplog.at_level(logging.WARNING):
            again = await maintain_partitions(connection, MONTH, 2, NOW)
    assert again.made == []
    assert again.default_rows["attendance_sessions"] == 1
    assert "1 rows of attendance_sessions fall outside every partition" in caplog.text


async def test_a_finer_interval_goes_on_from_where_the_coarser_one_ended(
    own_db: asyncpg.Pool,
) -> None:
    async with own_db.acquire() as connection:
        await create_partitions(connection, MONTH, NOW, NOW + timedelta(days=1))
        await create_partitions(connection, PartitionInterval.WEEK, NOW, NOW + timedelta(days=30))
        await create_partitions(
            connection, PartitionInterval.DAY, NOW + timedelta(days=40), NOW + timedelta(days=42)
        )

    found = await partitions(own_db, "comments")
    assert found[0]["lower"] == datetime(2027, 3, 1, tzinfo=UTC)
    assert found[0]["upper"] == found[1]["lower"] == datetime(2027, 4, 1, tzinfo=UTC)
    assert found[1]["upper"] == datetime(2027, 4, 5, tzinfo=UTC)  # the first Monday after
    for before, after in zip(found, found[1:], strict=False):
        if after["lower"] < datetime(2027, 4, 19, tzinfo=UTC):
            assert before["upper"] == after["lower"]  # no gap, no overlap
    days = [p for p in found if p["upper"] - p["lower"] == timedelta(days=1)]
    assert [d["lower"].day for d in days] == [24, 25, 26]


async def test_retention_drops_whole_old_partitions_and_deletes_rows_of_the_straddling_one(
    own_db: asyncpg.Pool,
) -> None:
    async with own_db.acquire() as connection:
        await create_partitions(connection, MONTH, NOW - timedelta(days=150), NOW)
    await breakout_since(own_db, "b1", NOW - timedelta(days=400))
    months_ago = [NOW - timedelta(days=days) for days in (140, 100, 80, 60, 10)]
    opened = [
        sample_session("b1", n, entry_ts=at, user_name="Ada") for n, at in enumerate(months_ago)
    ]
    async with own_db.acquire() as connection:
        await write_hour_long_stays(connection, opened)
        await connection.execute(SCHOOL_ROLLUP, NOW - timedelta(days=140))
    await roll_up_all(own_db)
    before = {p["partition"] for p in await partitions(own_db, "attendance_sessions")}

    purged = await purge_sessions(own_db, older_than_days=90, mode=RetentionMode.DELETE, now=NOW)

    # The cut is 2026-12-15: October and November go whole; December's row before the cut
    # goes row by row, the one after stays.
    assert "attendance_sessions_p20261001" in purged.partitions
    assert "attendance_sessions_p20261101" in purged.partitions
    assert "attendance_sessions_p20261201" not in purged.partitions
    assert purged.sessions == 1
    after = {p["partition"] for p in await partitions(own_db, "attendance_sessions")}
    assert before - after == {"attendance_sessions_p20261001", "attendance_sessions_p20261101"}
    async with own_db.acquire() as connection:
        left = await connection.fetch("SELECT session_id FROM attendance_sessions ORDER BY 1")
    assert [r["session_id"] for r in left] == ["s2", "s3", "s4"]
    # The breakout's rollups of those days likewise; the school's are its own record.
    assert {"presence_daily_breakouts_p20261001", "presence_daily_breakouts_p20261101"} <= set(
        purged.partitions
    )
    async with own_db.acquire() as connection:
        days = await connection.fetch("SELECT place_kind, day FROM presence_daily ORDER BY day")
    assert [(r["place_kind"], r["day"].isoformat()) for r in days] == [
        ("school", "2026-10-26"),
        ("breakout", "2026-12-25"),
        ("breakout", "2027-01-14"),
        ("breakout", "2027-03-05"),
    ]


async def test_anonymising_marks_partitions_done_and_skips_them_after(
    own_db: asyncpg.Pool,
) -> None:
    async with own_db.acquire() as connection:
        await create_partitions(connection, MONTH, NOW - timedelta(days=150), NOW)
    await breakout_since(own_db, "b1", NOW - timedelta(days=400))
    old = sample_session("b1", 1, entry_ts=NOW - timedelta(days=140))
    still_open = sample_session("b1", 2, entry_ts=NOW - timedelta(days=120))
    async with own_db.acquire() as connection:
        await write_sessions(
            connection,
            [old, still_open],
            [SessionExit("u1", "b1", "s1", old.entry_ts + timedelta(hours=1), ExitReason.LEAVE)],
        )

    await roll_up_all(own_db)  # the closed one's day (an open stay counts nowhere till it closes)

    first = await purge_sessions(own_db, older_than_days=90, mode=RetentionMode.ANONYMISE, now=NOW)

    assert first.sessions == 1 and first.partitions == []
    async with own_db.acquire() as connection:
        done = {
            r["partition"] for r in await connection.fetch("SELECT * FROM anonymised_partitions")
        }
        assert (
            await connection.fetchval(
                "SELECT user_name FROM attendance_sessions WHERE session_id = 's1'"
            )
            is None
        )
    # October is done; November holds a session still open, so it is read again next time.
    assert "attendance_sessions_p20261001" in done
    assert "attendance_sessions_p20261101" not in done
    assert "comments_p20261101" in done
    # The rollups of October lose their names and are done; November's wait for the open one.
    async with own_db.acquire() as connection:
        names = await connection.fetch("SELECT user_name FROM presence_daily")
    assert [r["user_name"] for r in names] == [None]
    assert "presence_daily_breakouts_p20261001" in done
    assert "presence_daily_breakouts_p20261101" not in done


async def test_hot_path_and_breakout_reads_prune_to_the_breakouts_partitions(
    own_db: asyncpg.Pool,
) -> None:
    """As the server runs them (prepared, generic plans), a join, a leave, a resume, the last
    comments, and a breakout's session table read only the partitions from the time the
    breakout's record begins."""
    async with own_db.acquire() as connection:
        await create_partitions(connection, MONTH, NOW - timedelta(days=365), NOW)
    since = NOW - timedelta(days=10)
    await breakout_since(own_db, "b1", since)
    await breakout_since(own_db, "old", NOW - timedelta(days=400))
    history = [
        sample_session("old", n, entry_ts=NOW - timedelta(days=30 * n)) for n in range(1, 12)
    ]
    joined = sample_session("b1", 50, entry_ts=NOW - timedelta(hours=1))
    async with own_db.acquire() as connection:
        await write_sessions(connection, [*history, joined], [])
        await comments.write_comments(
            connection,
            [
                comments.Comment("org-a", "b1", "c1", "u50", "U", "hi", None, NOW),
                comments.Comment(
                    "org-a", "old", "c0", "u1", "U", "hi", None, NOW - timedelta(days=200)
                ),
            ],
        )
    allowed = (
        {"breakouts", "breakouts_pkey"}
        | {
            p["partition"]
            for table in ("attendance_sessions", "session_interruptions", "comments")
            for p in await partitions(own_db, table)
            if p["upper"] > since
        }
        | {
            f"{table}_default"
            for table in ("attendance_sessions", "session_interruptions", "comments")
        }
    )
    leave = ("u50", "b1", "s50", NOW, ExitReason.LEAVE.value, joined.node_id, joined.entry_ts)
    async with own_db.acquire() as connection:
        reads = {
            "leave": await tables_read(connection, sessions.WRITE_SESSIONS, [], [leave], []),
            "join": await tables_read(
                connection,
                sessions.WRITE_SESSIONS,
                [sessions._open_row(sample_session("b1", 51, entry_ts=NOW), None)],
                [],
                [],
            ),
            "resume": await tables_read(
                connection,
                sessions.RESUME_SESSION,
                "org-a",
                "b1",
                "u50",
                "s50",
                SessionType.LIVE.value,
                NOW,
                60.0,
                "n2",
            ),
            "holder": await tables_read(
                connection, sessions.SELECT_SESSION_HOLDER, "org-a", "b1", "u50", "s50"
            ),
            "last comments": await tables_read(
                connection, comments.SELECT_NEWEST, ["org-a"], ["b1"], 50
            ),
            "session table": await tables_read(
                connection, sessions.SELECT_BREAKOUT_SESSIONS, "org-a", "b1", 0, 100
            ),
        }
    for name, read in reads.items():
        partitions_read = {t for t in read if "_p20" in t or t.endswith(("_default", "_legacy"))}
        assert partitions_read or name == "join", name  # an insert reads none: it is routed
        assert partitions_read <= allowed, (name, partitions_read - allowed)


async def test_a_days_report_reads_only_the_partitions_of_its_days(own_db: asyncpg.Pool) -> None:
    """The reports' live figures (presence_by_day: a school's or an organisation's days that
    are not rolled up yet) read the partitions of the days asked for and the week before (a
    stay may run into them), not the year; their rolled-up figures, the days' rollups only."""
    async with own_db.acquire() as connection:
        await create_partitions(connection, MONTH, NOW - timedelta(days=365), NOW)
    await breakout_since(own_db, "b1", NOW - timedelta(days=400))
    history = [sample_session("b1", n, entry_ts=NOW - timedelta(days=30 * n)) for n in range(12)]
    async with own_db.acquire() as connection:
        await write_hour_long_stays(connection, history)
        read = await tables_read(
            connection,
            "SELECT * FROM presence_by_day(ARRAY['breakout'], ARRAY['org-a/b1'], ARRAY[$1::date],"
            " $2, false)",
            (NOW - timedelta(days=60)).date(),
            NOW,
        )
    sessions_read = {t for t in read if t.startswith("attendance_sessions_")}
    # 2027-01-14, and the week before it: January's partition, and December's last days.
    assert sessions_read <= {
        "attendance_sessions_p20261201",
        "attendance_sessions_p20270101",
        "attendance_sessions_default",
    }, sessions_read
    assert "attendance_sessions_p20270101" in sessions_read

    # A month's rolled-up figures (presence_days, which the organisation's aggregate reads) read
    # that month's rollups only.
    await roll_up_all(own_db)
    async with own_db.acquire() as connection:
        read = await tables_read(
            connection,
            "SELECT * FROM presence_days('breakout', ARRAY['org-a/b1'], $1, $2, $3, false)",
            date(2027, 1, 1),
            date(2027, 1, 31),
            NOW,
        )
    rollups_read = {t for t in read if t.startswith("presence_daily_")}
    assert rollups_read - {"presence_daily_stale"} == {"presence_daily_breakouts_p20270101"}
