"""The breakout report's engagement against real PostgreSQL: read by name for the few users whose
clients reported, or for every user at once past `ENGAGED_BY_NAME`, with the same figures; and
for one user alone when the report is that user's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

import models.reports.breakouts as breakouts
from models.domain.records import ActivityState, Identity, Role
from models.reports.breakouts import BreakoutReports
from models.reports.rules import BreakoutRules
from models.store.activity import Activity, write_activity
from models.store.breakouts import BreakoutDirectory
from models.store.rules import record_server_rules
from tests.support.records import create_breakout

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
MINUTE = timedelta(minutes=1)


async def _breakout_with_three_viewers(pool: asyncpg.Pool) -> str:
    """Ada plays 30 of her 60 minutes and idles 10; Bob idles 20 of his; Cy never reports."""
    breakout = await create_breakout(pool)
    async with pool.acquire() as connection:
        await connection.execute(
            "UPDATE breakouts SET sessions_from = $2 WHERE id = $1", breakout, T0 - MINUTE
        )
        for user in ("ada", "bob", "cy"):
            await connection.execute(
                "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts,"
                " exit_ts, exit_reason, org_id) VALUES ($1, $2, 's1', $3, $4, 'leave', 'org-a')",
                user,
                breakout,
                T0,
                T0 + 60 * MINUTE,
            )
        changes = [
            ("ada", 10 * MINUTE, ActivityState.PLAYING),
            ("ada", 40 * MINUTE, ActivityState.IDLE),
            ("ada", 50 * MINUTE, ActivityState.HIDDEN),
            ("bob", 40 * MINUTE, ActivityState.IDLE),
        ]
        await write_activity(
            connection,
            [
                Activity("org-a", breakout, user, "s1", T0 + at, state)
                for user, at, state in changes
            ],
        )
    return breakout


async def _engagement(
    pool: asyncpg.Pool, breakout: str, only_user: str | None = None
) -> dict[str, tuple[float, float]]:
    server = await record_server_rules(
        pool, breakout_min_minutes=0, breakout_min_percent=0, day_min_hours=4, period_min_percent=80
    )
    reports = BreakoutReports(
        pool,
        BreakoutDirectory(pool, auto_create=False, cache_s=0),
        rules=BreakoutRules(server=server),
    )
    analyst = Identity(
        "analyst", "Analyst", "org-a", Role.ANALYST, valid_until=datetime.now(UTC) + 60 * MINUTE
    )
    report = await reports.breakout_attendance(
        analyst, breakout, datetime.now(UTC), after="", limit=None, only_user=only_user
    )
    return {user.user_id: (user.active_seconds, user.idle_seconds) for user in report.users}


@pytest.mark.parametrize("by_name", [True, False], ids=["by-name", "everyone-at-once"])
async def test_engagement_is_the_same_read_by_name_or_for_everyone(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, by_name: bool
) -> None:
    if not by_name:  # two reporters are past a limit of one
        monkeypatch.setattr(breakouts, "ENGAGED_BY_NAME", 1)
    breakout = await _breakout_with_three_viewers(db)
    assert await _engagement(db, breakout) == {
        "ada": (30 * 60, 10 * 60),
        "bob": (0, 20 * 60),
        "cy": (0, 0),
    }


async def test_one_user_s_report_reads_that_user_s_engagement_however_many_reported(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(breakouts, "ENGAGED_BY_NAME", 1)
    breakout = await _breakout_with_three_viewers(db)
    assert await _engagement(db, breakout, only_user="ada") == {"ada": (30 * 60, 10 * 60)}
    assert await _engagement(db, breakout, only_user="cy") == {"cy": (0, 0)}
