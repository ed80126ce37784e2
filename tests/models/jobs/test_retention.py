"""Retention purge against a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from config import RetentionMode
from models.domain.records import org_place
from models.jobs import retention
from models.jobs.retention import purge_sessions
from models.reports.rollups import roll_up_all
from tests.support.records import create_breakout

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def stay(
    user: str, breakout: str, session: str, day: datetime, reason: str | None
) -> tuple[object, ...]:
    """An hour's stay that began on `day`; no reason: still open."""
    left = None if reason is None else day + timedelta(hours=1)
    return (user, breakout, session, day, left, reason)


async def seed(db: asyncpg.Pool) -> str:
    """Three old closed sessions, one old open one, one recent closed one."""
    breakout = await create_breakout(db, "o")
    async with db.acquire() as connection:
        await connection.executemany(
            "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,"
            " exit_reason, org_id, user_name, client_ip, user_agent, city, region, latitude,"
            " longitude, country_code, browser) VALUES ($1, $2, $3, $4, $5, $6, 'o', 'Ada',"
            " '81.2.69.0', 'UA', 'London', 'England', 51.5, -0.1, 'GB', 'Chrome')",
            [
                stay("u1", breakout, "old-1", datetime(2025, 1, 1, tzinfo=UTC), "leave"),
                stay("u2", breakout, "old-2", datetime(2025, 2, 1, tzinfo=UTC), "disconnect"),
                stay("u3", breakout, "old-3", datetime(2025, 3, 1, tzinfo=UTC), "leave"),
                stay("u4", breakout, "old-open", datetime(2025, 3, 1, tzinfo=UTC), None),
                stay("u5", breakout, "recent", datetime(2026, 5, 30, tzinfo=UTC), "leave"),
            ],
        )
    return breakout


async def rows(db: asyncpg.Pool, breakout: str) -> dict[str, asyncpg.Record]:
    async with db.acquire() as connection:
        found = await connection.fetch(
            "SELECT * FROM attendance_sessions WHERE breakout_id = $1", breakout
        )
    return {row["session_id"]: row for row in found}


async def test_anonymise_drops_personal_fields_of_old_closed_sessions(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PURGE_BATCH_ROWS", 2)  # exercise the batching loop
    breakout = await seed(db)

    count = (
        await purge_sessions(db, older_than_days=90, mode=RetentionMode.ANONYMISE, now=NOW)
    ).sessions

    assert count >= 3
    after = await rows(db, breakout)
    for session_id in ("old-1", "old-2", "old-3"):
        row = after[session_id]
        assert (row["user_name"], row["client_ip"], row["user_agent"]) == (None, None, None)
        assert (row["city"], row["region"], row["latitude"], row["longitude"]) == (None,) * 4
        # What attendance is counted by stays.
        assert row["user_id"] and row["exit_ts"] and row["country_code"] == "GB"
        assert row["browser"] == "Chrome"
    assert after["old-open"]["user_name"] == "Ada"  # still open: left alone
    assert after["recent"]["client_ip"] is not None
    # A second run finds nothing more to do for these rows.
    await purge_sessions(db, older_than_days=90, mode=RetentionMode.ANONYMISE, now=NOW)
    assert await rows(db, breakout) == after


async def rollups(db: asyncpg.Pool, breakout: str) -> dict[str, str | None]:
    async with db.acquire() as connection:
        found = await connection.fetch(
            "SELECT user_id, user_name FROM presence_daily WHERE place_id = $1",
            org_place("o", breakout),
        )
    return {row["user_id"]: row["user_name"] for row in found}


async def test_delete_removes_old_closed_sessions_and_their_rollups(db: asyncpg.Pool) -> None:
    breakout = await seed(db)
    await roll_up_all(db)
    assert await rollups(db, breakout) == {"u1": "Ada", "u2": "Ada", "u3": "Ada", "u5": "Ada"}

    await purge_sessions(db, older_than_days=90, mode=RetentionMode.DELETE, now=NOW)

    assert set(await rows(db, breakout)) == {"old-open", "recent"}
    assert await rollups(db, breakout) == {"u5": "Ada"}


async def test_activity_goes_with_its_deleted_session_and_stays_with_an_anonymised_one(
    db: asyncpg.Pool,
) -> None:
    breakout = await seed(db)
    async with db.acquire() as connection:
        for session, user, day in (("old-1", "u1", 2025), ("recent", "u5", 2026)):
            at = datetime(day, 1 if day == 2025 else 5, 1 if day == 2025 else 30, 0, 10, tzinfo=UTC)
            await connection.execute(
                "INSERT INTO session_activity (org_id, breakout_id, user_id, session_id, at,"
                " state) VALUES ('o', $1, $2, $3, $4, 'playing')",
                breakout,
                user,
                session,
                at,
            )

    async def activity() -> set[str]:
        async with db.acquire() as connection:
            found = await connection.fetch(
                "SELECT session_id FROM session_activity WHERE breakout_id = $1", breakout
            )
        return {row["session_id"] for row in found}

    # Anonymising keeps it (a state and a time identify nobody): active time still counts.
    await purge_sessions(db, older_than_days=90, mode=RetentionMode.ANONYMISE, now=NOW)
    assert await activity() == {"old-1", "recent"}
    await purge_sessions(db, older_than_days=90, mode=RetentionMode.DELETE, now=NOW)
    assert await activity() == {"recent"}


async def test_anonymise_drops_names_from_old_rollups(db: asyncpg.Pool) -> None:
    breakout = await seed(db)
    await roll_up_all(db)

    await purge_sessions(db, older_than_days=90, mode=RetentionMode.ANONYMISE, now=NOW)

    assert await rollups(db, breakout) == {"u1": None, "u2": None, "u3": None, "u5": "Ada"}
    await roll_up_all(db)  # redoing the anonymised days keeps them anonymous
    assert await rollups(db, breakout) == {"u1": None, "u2": None, "u3": None, "u5": "Ada"}


async def comments_of(db: asyncpg.Pool, breakout: str) -> dict[str, tuple[str | None, str | None]]:
    async with db.acquire() as connection:
        found = await connection.fetch(
            "SELECT id, user_name, text FROM comments WHERE breakout_id = $1", breakout
        )
    return {row["id"]: (row["user_name"], row["text"]) for row in found}


@pytest.mark.parametrize("mode", [RetentionMode.ANONYMISE, RetentionMode.DELETE])
async def test_old_comments_go_with_their_sessions(
    db: asyncpg.Pool, mode: RetentionMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PURGE_BATCH_ROWS", 2)
    breakout = await seed(db)
    async with db.acquire() as connection:
        await connection.executemany(
            "INSERT INTO comments (org_id, breakout_id, id, user_id, user_name, text, created_at)"
            " VALUES ('o', $1, $2, 'u1', 'Ada', 'my phone is 0123', $3)",
            [(breakout, f"old-{n}", datetime(2025, 1, 1, tzinfo=UTC)) for n in range(3)]
            + [(breakout, "recent", datetime(2026, 5, 30, tzinfo=UTC))],
        )

    await purge_sessions(db, older_than_days=90, mode=mode, now=NOW)

    left = await comments_of(db, breakout)
    assert left["recent"] == ("Ada", "my phone is 0123")
    if mode is RetentionMode.DELETE:
        assert set(left) == {"recent"}
    else:
        assert {left[f"old-{n}"] for n in range(3)} == {(None, None)}


async def test_finished_webhook_deliveries_go_and_pending_ones_stay(db: asyncpg.Pool) -> None:
    org = f"o-hooks-{NOW.timestamp():.0f}"
    async with db.acquire() as connection:
        endpoint = await connection.fetchval(
            "INSERT INTO webhook_endpoints (org_id, url, secret, events, created_by)"
            " VALUES ($1, 'https://hooks.example.org/in', 'secret-secret-secret',"
            " '{attendance.corrected}', 'admin') RETURNING id",
            org,
        )
        made = {}
        for name, occurred, delivered in (
            ("old-delivered", datetime(2025, 1, 1, tzinfo=UTC), True),
            ("old-pending", datetime(2025, 1, 1, tzinfo=UTC), False),
            ("recent-delivered", datetime(2026, 5, 30, tzinfo=UTC), True),
        ):
            made[name] = await connection.fetchval(
                "INSERT INTO webhook_events (org_id, event, subject, occurred_at, body)"
                " VALUES ($1, 'attendance.corrected', '{}', $2, '{}') RETURNING id",
                org,
                occurred,
            )
            await connection.execute(
                "INSERT INTO webhook_deliveries (event_id, endpoint_id, delivered_at)"
                " VALUES ($1, $2, $3)",
                made[name],
                endpoint,
                occurred if delivered else None,
            )

    await purge_sessions(db, older_than_days=90, mode=RetentionMode.ANONYMISE, now=NOW)

    async with db.acquire() as connection:
        left = {
            row["id"]
            for row in await connection.fetch(
                "SELECT id FROM webhook_events WHERE org_id = $1", org
            )
        }
    assert left == {made["old-pending"], made["recent-delivered"]}
