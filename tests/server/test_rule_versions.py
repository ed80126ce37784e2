"""Versioned rules (README "Attendance rules") against the real server and PostgreSQL: a change
of a breakout's rule or a school's thresholds is a new version, every report names the versions
it used, and `?rule=as-of` applies the one that held then."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from models.domain.records import Role
from tests.support.api import Api
from tests.support.servers import RunningServer


async def test_a_breakout_report_under_todays_rule_or_the_one_that_held_then(
    http: aiohttp.ClientSession, server: RunningServer, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout  # yesterday 10:00-11:00, present from 50%: only u1 (40 min)
    api = Api(http, server, org)
    path = f"/api/breakouts/{breakout}"
    _, held = await api.call("GET", path)
    spec = {key: held["data"][key] for key in ("name", "startsAt", "endsAt")}
    status, _ = await api.call(
        "PUT", path, spec | {"presentMinPercent": 75}, api.headers(Role.HOST)
    )
    assert status == 200

    status, body = await api.call("GET", f"{path}/attendance")
    today = body["data"]
    assert today["policy"]["minPercent"] == 75 and today["present"] == 0
    assert today["rule"]["basis"] == "current" and today["rule"]["asOf"] is None
    assert today["rule"]["ownVersion"] == 2

    status, body = await api.call("GET", f"{path}/attendance?rule=as-of")
    then = body["data"]
    assert then["policy"]["minPercent"] == 50 and then["present"] == 1
    assert then["rule"] == {
        "basis": "as-of",
        "asOf": then["endsAt"],  # the breakout's end: the rule that held when it was held
        "ownVersion": 1,
        "serverVersion": then["rule"]["serverVersion"],
    }
    status, body = await api.call("GET", f"{path}/attendance?rule=yesterday")
    assert status == 422 and "rule" in body["errors"]

    status, body = await api.call("GET", f"{path}/rules", headers=api.headers(Role.ANALYST))
    assert status == 200
    own = body["data"]["own"]
    assert [(v["version"], v["minPercent"]) for v in own] == [(1, 50), (2, 75)]
    assert own[0]["validFrom"] is None and own[1]["validFrom"] is not None
    assert body["data"]["server"][-1]["version"] == today["rule"]["serverVersion"]

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    query = f"from={yesterday}&to={yesterday}"
    _, body = await api.call("GET", f"/api/attendances/aggregate/breakouts?{query}")
    assert body["data"]["periods"][0]["present"] == 0
    _, body = await api.call("GET", f"/api/attendances/aggregate/breakouts?{query}&rule=as-of")
    assert body["data"]["periods"][0]["present"] == 1


async def test_the_servers_defaults_are_versions_too(
    http: aiohttp.ClientSession, make_server: Any, postgres_url: str
) -> None:
    """A node started with other defaults records a new server version; a report of a breakout
    held before it, under the rule that held then, uses the version in force then."""
    first = await make_server()
    org = f"org-{secrets.token_hex(4)}"
    api = Api(http, first, org)
    ended = datetime.now(UTC) - timedelta(hours=2)
    breakout = f"b-{secrets.token_hex(4)}"
    spec = {"startsAt": (ended - timedelta(hours=1)).isoformat(), "endsAt": ended.isoformat()}
    assert (await api.call("PUT", f"/api/breakouts/{breakout}", spec))[0] == 200
    _, before = await api.call("GET", f"/api/breakouts/{breakout}/attendance")
    percent = before["data"]["policy"]["minPercent"]

    second = await make_server(breakout_present_min_percent=percent / 2 + 1)
    api = Api(http, second, org)
    _, today = await api.call("GET", f"/api/breakouts/{breakout}/attendance")
    _, then = await api.call("GET", f"/api/breakouts/{breakout}/attendance?rule=as-of")
    assert today["data"]["policy"]["minPercent"] == percent / 2 + 1
    assert today["data"]["rule"]["serverVersion"] > before["data"]["rule"]["serverVersion"]
    connection = await asyncpg.connect(postgres_url)
    try:
        held = await connection.fetchrow(
            "SELECT version, min_percent FROM rule_versions WHERE scope_kind = 'server'"
            " AND (valid_from IS NULL OR valid_from <= $1) ORDER BY version DESC LIMIT 1",
            ended,
        )
        with pytest.raises(asyncpg.RestrictViolationError):  # history is never rewritten
            await connection.execute("UPDATE rule_versions SET min_percent = 1")
    finally:
        await connection.close()
    assert then["data"]["rule"]["serverVersion"] == held["version"]
    assert then["data"]["policy"]["minPercent"] == held["min_percent"]


async def test_a_school_sets_its_own_thresholds_as_versions(
    http: aiohttp.ClientSession, school_server: RunningServer
) -> None:
    api = Api(http, school_server, f"org-{secrets.token_hex(4)}")
    school = await api.school(time_zone="Europe/Madrid", school_days=[1, 2, 3, 4, 5, 6, 7])
    ada = await api.user(school)
    zone = ZoneInfo("Europe/Madrid")
    day = datetime.now(zone).date() - timedelta(days=3)
    at = datetime.combine(day, time(9), tzinfo=zone)
    assert (await api.check("checkin", ada, school, at))[0] == 201
    assert (await api.check("checkout", ada, school, at + timedelta(hours=2)))[0] == 201

    status, body = await api.call("PATCH", f"/api/schools/{school}", {"day_min_hours": 1.5})
    assert status == 200 and body["data"]["day_min_hours"] == 1.5
    assert body["data"]["period_min_percent"] is None  # still the server's
    status, body = await api.call("PATCH", f"/api/schools/{school}", {"day_min_hours": 25})
    assert status == 422 and "day_min_hours" in body["errors"]

    report = f"/api/attendances/aggregate/school/{school}?from={day}&to={day}&detail=users"
    _, body = await api.call("GET", report)
    assert body["data"]["rules"]["day_min_hours"] == 1.5
    assert body["data"]["rule"]["own_version"] == 2
    assert body["data"]["periods"][0]["present"] == 1  # two hours meet 1.5
    _, body = await api.call("GET", report + "&rule=as-of")
    assert body["data"]["rule"]["basis"] == "as-of" and body["data"]["rule"]["own_version"] == 1
    assert body["data"]["rules"]["day_min_hours"] != 1.5  # the server's, then
    assert body["data"]["periods"][0]["present"] == 0

    status, body = await api.call("PATCH", f"/api/schools/{school}", {"day_min_hours": None})
    assert status == 200 and body["data"]["day_min_hours"] is None
    _, body = await api.call("GET", f"/api/schools/{school}/rules")
    assert [v["dayMinHours"] for v in body["data"]["own"]] == [None, 1.5, None]
