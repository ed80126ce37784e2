"""Breakout attendance reports and the analysts' SQL, against the real server and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest

from models.domain.records import Role, org_place
from models.reports.rollups import roll_up_all
from tests.support.servers import RunningServer


async def _get(
    http: aiohttp.ClientSession, server: RunningServer, path: str, org: str, **params: str
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {server.token('analyst', role=Role.ANALYST, org=org)}"}
    async with http.get(server.url + path, params=params, headers=headers) as response:
        if response.content_type == "text/csv":
            return response.status, await response.text()
        return response.status, await response.json(content_type=None)


async def test_breakout_report_per_user_as_json_and_csv(
    http: aiohttp.ClientSession, server: RunningServer, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout
    status, body = await _get(http, server, f"/api/breakouts/{breakout}/attendance", org)
    assert status == 200, body
    report = body["data"]
    assert report["scheduledSeconds"] == 3600
    assert report["policy"] == {"minMinutes": None, "minPercent": 50}
    assert (report["attendees"], report["present"], report["absent"]) == (4, 1, 3)
    users = {user["userId"]: user for user in report["users"]}
    assert users["u1"]["attendedSeconds"] == 40 * 60 and users["u1"]["sessions"] == 2
    assert users["u1"]["percent"] == pytest.approx(66.67) and users["u1"]["present"] is True
    assert users["u1"]["firstJoin"].endswith("T10:00:00.000Z")
    assert users["u1"]["lastLeave"].endswith("T10:40:00.000Z")
    assert users["u2"]["attendedSeconds"] == 600 and users["u2"]["present"] is False
    assert users["u2"]["onDemandSeconds"] == 1200 and users["u1"]["onDemandSeconds"] == 0
    assert users["u4"]["attendedSeconds"] == 0 and users["u4"]["onDemandSessions"] == 1
    assert users["u4"]["present"] is False  # watching the recording is not attending
    assert users["u3"]["attendedSeconds"] == 0 and users["u3"]["openSessions"] == 1
    assert users["u3"]["firstJoin"] is None and users["u1"]["userName"] == "Ada"

    status, text = await _get(
        http, server, f"/api/breakouts/{breakout}/attendance", org, format="csv"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 200 and [row["userId"] for row in rows] == ["u1", "u2", "u3", "u4"]
    assert rows[0]["attendedSeconds"] == "2400.0" and rows[0]["present"] == "true"

    # The same figures once the day is rolled up.
    await roll_up_all(server.pool)
    assert (await _get(http, server, f"/api/breakouts/{breakout}/attendance", org))[1] == body
    status, other = await _get(http, server, f"/api/breakouts/{breakout}/attendance", "org-x")
    assert status == 404  # another org's breakout: as one that does not exist


async def test_org_breakouts_aggregate(
    http: aiohttp.ClientSession, server: RunningServer, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    path = "/api/attendances/aggregate/breakouts"
    params = {"from": str(yesterday - timedelta(days=2)), "to": str(yesterday)}
    status, body = await _get(http, server, path, org, **params, detail="breakouts")
    assert status == 200, body
    (period,) = body["data"]["periods"]
    assert period["start"] == period["end"] == str(yesterday)
    assert (period["breakouts"], period["attendees"]) == (1, 2)
    assert (period["present"], period["absent"]) == (1, 1)
    [judged] = period["perBreakout"]
    assert (judged["breakoutId"], judged["present"], judged["absent"]) == (breakout, 1, 1)
    assert judged["rule"]["basis"] == "current" and judged["rule"]["ownVersion"] == 1
    assert body["data"]["ruleBasis"] == "current"
    status, weeks = await _get(http, server, path, org, **params, period="week")
    assert status == 200 and sum(p["present"] for p in weeks["data"]["periods"]) == 1
    bad = {"from": str(yesterday), "to": str(yesterday - timedelta(days=1))}
    assert (await _get(http, server, path, org, **bad))[0] == 422


async def rolled_up(server: RunningServer, place: str) -> None:
    """Roll up until no day of `place` is stale. The server's own round may hold one of its days
    (claimed, not yet committed): ours skips it, so wait for theirs."""
    async with asyncio.timeout(30):
        while True:
            await roll_up_all(server.pool)
            async with server.pool.acquire() as connection:
                stale = await connection.fetchval(
                    "SELECT count(*) FROM presence_daily_stale WHERE place_id = $1", place
                )
            if stale == 0:
                return
            await asyncio.sleep(0.1)


async def test_analysts_read_the_views_and_nothing_else(
    server: RunningServer, postgres_url: str, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout
    await rolled_up(server, org_place(org, breakout))
    login = f"bi_{secrets.token_hex(4)}"
    async with server.pool.acquire() as connection:
        await connection.execute(
            f"CREATE ROLE {login} LOGIN PASSWORD 'bi-secret' IN ROLE attendance_analyst"
        )
    analyst = await asyncpg.connect(postgres_url, user=login, password="bi-secret")
    try:
        attended = await analyst.fetch(
            "SELECT user_id, duration_seconds FROM attended WHERE breakout_id = $1 ORDER BY 1, 2",
            breakout,
        )
        assert [(r["user_id"], r["duration_seconds"]) for r in attended] == [
            ("u1", 1200.0),
            ("u1", 1800.0),
            ("u2", 600.0),
            ("u2", 1200.0),
            ("u4", 1800.0),
        ]
        daily = await analyst.fetch(
            "SELECT user_id, seconds, org_id FROM daily_presence"
            " WHERE place_kind = 'breakout' AND place_id = $1 ORDER BY 1",
            breakout,
        )
        assert [(r["user_id"], r["seconds"], r["org_id"]) for r in daily] == [
            ("u1", 2400.0, org),
            ("u2", 600.0, org),
        ]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analyst.fetch("SELECT * FROM attendance_sessions LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analyst.execute("DELETE FROM presence_daily")
    finally:
        await analyst.close()
        async with server.pool.acquire() as connection:
            await connection.execute(f"DROP ROLE {login}")


async def test_the_servers_rollup_job_redoes_stale_days_by_itself(
    make_server: Any, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout
    place = org_place(org, breakout)  # rollups name a breakout by its place
    server = await make_server(rollup_interval_s=0.2)
    async with server.pool.acquire() as connection:
        for _ in range(100):
            stale = await connection.fetchval(
                "SELECT count(*) FROM presence_daily_stale WHERE place_id = $1", place
            )
            if stale == 0:
                break
            await asyncio.sleep(0.1)
        rolled = await connection.fetch(
            "SELECT user_id, seconds FROM presence_daily"
            " WHERE place_kind = 'breakout' AND place_id = $1 ORDER BY 1",
            place,
        )
    assert stale == 0
    assert [(row["user_id"], row["seconds"]) for row in rolled] == [("u1", 2400.0), ("u2", 600.0)]
