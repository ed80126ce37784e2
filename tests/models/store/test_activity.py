"""Time in each activity state, counted in SQL from a session's changes, entry, interruptions and
exit (README "Engagement"), against hand-made sessions whose answer is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from models.domain.records import ActivityState
from models.store.activity import Activity, write_activity
from tests.support.plans import assert_reads_only_the_breakout
from tests.support.records import create_breakout

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


async def _session(
    connection: asyncpg.Connection,
    breakout: str,
    user: str,
    session: str,
    entry: datetime,
    exit_: datetime | None,
    *,
    device: str = "desktop",
    city: str | None = "London",
) -> None:
    await connection.execute(
        "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,"
        " exit_reason, org_id, device_type, os, browser, city, country_code)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'org-a', $7, 'Linux', 'Firefox', $8, 'GB')",
        user,
        breakout,
        session,
        entry,
        exit_,
        None if exit_ is None else "leave",
        device,
        city,
    )


async def _report(
    connection: asyncpg.Connection,
    breakout: str,
    user: str,
    session: str,
    *changes: tuple[timedelta, ActivityState],
) -> None:
    await write_activity(
        connection,
        [Activity("org-a", breakout, user, session, T0 + after, state) for after, state in changes],
    )


async def _states(connection: asyncpg.Connection, breakout: str, session: str) -> asyncpg.Record:
    row: asyncpg.Record = await connection.fetchrow(
        "SELECT * FROM session_states WHERE org_id = 'org-a' AND breakout_id = $1"
        " AND session_id = $2",
        breakout,
        session,
    )
    return row


async def test_each_state_holds_until_the_next_and_they_add_up_to_the_session(
    db: asyncpg.Pool,
) -> None:
    breakout = await create_breakout(db)
    async with db.acquire() as connection:
        await _session(connection, breakout, "u1", "s1", T0, T0 + 60 * MINUTE)
        await _report(
            connection,
            breakout,
            "u1",
            "s1",
            (2 * MINUTE, ActivityState.VISIBLE),
            (5 * MINUTE, ActivityState.PLAYING),
            (35 * MINUTE, ActivityState.HIDDEN),
            (40 * MINUTE, ActivityState.PLAYING),
            (50 * MINUTE, ActivityState.IDLE),
            (55 * MINUTE, ActivityState.PAUSED),
            (70 * MINUTE, ActivityState.VISIBLE),  # after its exit: left out
        )
        row = await _states(connection, breakout, "s1")
    assert row["unknown_seconds"] == 120  # before its first report
    assert row["visible_seconds"] == 180
    assert row["playing_seconds"] == 40 * 60
    assert row["hidden_seconds"] == 300
    assert row["idle_seconds"] == 300
    assert row["paused_seconds"] == 300
    assert row["away_seconds"] == 0
    assert row["length_seconds"] == 3600


async def test_an_interruption_is_away_and_the_resumed_stay_is_unknown_until_told(
    db: asyncpg.Pool,
) -> None:
    breakout = await create_breakout(db)
    async with db.acquire() as connection:
        await _session(connection, breakout, "u1", "s1", T0, T0 + 60 * MINUTE)
        await connection.execute(
            "UPDATE attendance_sessions SET interruptions = 1, interrupted_seconds = 600"
            " WHERE session_id = 's1' AND breakout_id = $1",
            breakout,
        )
        await connection.execute(
            "INSERT INTO session_interruptions (user_id, breakout_id, session_id, left_at,"
            " back_at) VALUES ('u1', $1, 's1', $2, $3)",
            breakout,
            T0 + 20 * MINUTE,
            T0 + 30 * MINUTE,
        )
        await _report(
            connection,
            breakout,
            "u1",
            "s1",
            (0 * MINUTE, ActivityState.PLAYING),
            (25 * MINUTE, ActivityState.HIDDEN),  # inside the interruption: left out
            (40 * MINUTE, ActivityState.PLAYING),
        )
        row = await _states(connection, breakout, "s1")
        [user] = await connection.fetch(
            "SELECT * FROM user_engagement WHERE org_id = 'org-a' AND breakout_id = $1", breakout
        )
        attended = await connection.fetchval(
            "SELECT duration_seconds FROM attended WHERE breakout_id = $1", breakout
        )
    assert row["playing_seconds"] == (20 + 20) * 60
    assert row["away_seconds"] == 600
    assert row["unknown_seconds"] == 600  # from the resume until its client reported again
    assert row["hidden_seconds"] == 0
    assert row["length_seconds"] == 3600
    assert user["attended_seconds"] == attended == 3000
    assert (user["active_seconds"], user["unknown_seconds"]) == (2400, 600)


async def test_a_user_on_two_devices_counts_each_moment_once_in_its_most_engaged_state(
    db: asyncpg.Pool,
) -> None:
    breakout = await create_breakout(db)
    async with db.acquire() as connection:
        # Phone 0-30 min playing; laptop 10-40 min: idle 10-20, hidden 20-40.
        await _session(connection, breakout, "u1", "phone", T0, T0 + 30 * MINUTE, device="mobile")
        await _session(
            connection, breakout, "u1", "laptop", T0 + 10 * MINUTE, T0 + 40 * MINUTE, city=None
        )
        await _report(connection, breakout, "u1", "phone", (0 * MINUTE, ActivityState.PLAYING))
        await _report(
            connection,
            breakout,
            "u1",
            "laptop",
            (10 * MINUTE, ActivityState.IDLE),
            (20 * MINUTE, ActivityState.HIDDEN),
        )
        [user] = await connection.fetch(
            "SELECT * FROM breakout_user_analytics WHERE org_id = 'org-a' AND breakout_id = $1",
            breakout,
        )
    assert user["attended_seconds"] == 40 * 60  # not 60 min: the overlap counts once
    assert user["active_seconds"] == 30 * 60
    assert user["hidden_seconds"] == 10 * 60
    assert (user["idle_seconds"], user["paused_seconds"], user["unknown_seconds"]) == (0, 0, 0)
    assert (user["sessions"], user["devices"]) == (2, 2)
    assert (user["first_seen"], user["last_seen"]) == (T0, T0 + 40 * MINUTE)
    assert user["device_mix"] == '{"mobile": 1, "desktop": 1}'
    assert user["location_mix"] == '{"GB": 1, "London, GB": 1}'


async def test_an_open_session_counts_up_to_now_and_not_in_the_attended_figures(
    db: asyncpg.Pool,
) -> None:
    breakout = await create_breakout(db)
    entry = datetime.now(UTC) - 10 * MINUTE
    async with db.acquire() as connection:
        await _session(connection, breakout, "u1", "s1", entry, None)
        row = await _states(connection, breakout, "s1")
        engaged = await connection.fetch(
            "SELECT * FROM user_engagement WHERE org_id = 'org-a' AND breakout_id = $1", breakout
        )
    assert 599 < row["unknown_seconds"] == row["length_seconds"] < 660
    assert engaged == []  # attendance counts closed sessions only


async def test_a_breakout_s_engagement_reads_only_its_own_rows(db: asyncpg.Pool) -> None:
    """The views are filtered where the rows are read (the planner pushes the breakout down
    through the windows, groups and unions), not after computing every breakout's sessions."""
    breakout = await create_breakout(db)
    async with db.acquire() as connection:
        for view in ("breakout_user_analytics", "session_states", "user_engagement"):
            await assert_reads_only_the_breakout(connection, view, breakout)
