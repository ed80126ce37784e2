"""The corrections' SQL views against a real PostgreSQL: the stays a correction adds join the
recorded time once, and a breakout's corrections cost its own rows only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from tests.support.plans import assert_reads_only_the_breakout
from tests.support.records import create_breakout

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


async def test_added_stays_join_the_recorded_time_each_moment_once(db: asyncpg.Pool) -> None:
    breakout = await create_breakout(db)
    async with db.acquire() as connection:
        await connection.execute(
            "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts,"
            " exit_ts, exit_reason, org_id, interruptions) VALUES"
            " ('u1', $1, 's1', $2, $3, 'leave', 'org-a', 1)",
            breakout,
            T0,
            T0 + 30 * MINUTE,
        )
        await connection.execute(  # away 10:10-10:20 of the session
            "INSERT INTO session_interruptions (user_id, breakout_id, session_id, left_at,"
            " back_at) VALUES ('u1', $1, 's1', $2, $3)",
            breakout,
            T0 + 10 * MINUTE,
            T0 + 20 * MINUTE,
        )
        for start, end, withdrawn in ((15, 40, False), (50, 55, False), (0, 60, True)):
            made = await connection.fetchval(
                "INSERT INTO attendance_corrections (org_id, place_kind, place_id, user_id,"
                " kind, reason, stay_from, stay_to, made_by, made_by_role) VALUES"
                " ('org-a', 'breakout', $1, 'u1', 'stay', 'joined_by_phone', $2, $3, 'h', 'host')"
                " RETURNING id",
                breakout,
                T0 + start * MINUTE,
                T0 + end * MINUTE,
            )
            if withdrawn:
                await connection.execute(
                    "UPDATE attendance_corrections SET withdrawn_at = now(), withdrawn_by = 'h',"
                    " withdrawn_reason = 'wrong' WHERE id = $1",
                    made,
                )
        seconds = await connection.fetchval(
            "SELECT seconds FROM corrected_breakout_seconds"
            " WHERE org_id = 'org-a' AND breakout_id = $1 AND user_id = 'u1'",
            breakout,
        )
        # In 0-10, away 10-15 (the phone from 15), phone and session to 30, phone to 40,
        # then 50-55: 10 + 25 + 5 minutes; the withdrawn hour counts for nothing.
        assert seconds == 40 * 60
        for view in ("corrected_breakout_seconds", "breakout_corrections"):
            await assert_reads_only_the_breakout(connection, view, breakout)
