"""Engagement against the real server and PostgreSQL: activity reports, what hosts see of them,
bad input and the rate, and the figures in the attendance report and the analytics route."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

from models.domain.records import Role
from tests.support.api import Api
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer


async def joined(server: RunningServer, connect: Any, user: str, breakout: str) -> Any:
    viewer = await connect(server, server.token(user, name=f"User {user}"))
    ack = await viewer.call("join-chat-room", {"breakoutId": breakout})
    assert ack["ok"], ack
    return viewer


async def report(viewer: Any, breakout: str, state: str) -> Any:
    return await viewer.call("activity", {"breakoutId": breakout, "state": state})


async def test_bad_reports_are_refused_with_a_clear_code(
    server: RunningServer, connect: Any
) -> None:
    breakout = new_breakout_id()
    ada = await joined(server, connect, "ada", breakout)
    outside = await connect(server, server.token("out"))
    for payload, code in [
        ({"breakoutId": breakout, "state": "asleep"}, "invalid_payload"),
        ({"breakoutId": breakout}, "invalid_payload"),
        ({"breakoutId": breakout, "state": 3}, "invalid_payload"),
        ("playing", "invalid_payload"),
        ({"breakoutId": new_breakout_id(), "state": "playing"}, "not_joined"),
    ]:
        ack = await ada.call("activity", payload)
        assert ack["ok"] is False and ack["error"]["code"] == code, (payload, ack)
    ack = await report(outside, breakout, "playing")
    assert ack["error"]["code"] == "not_joined"
    async with server.pool.acquire() as connection:
        stored = await connection.fetchval(
            "SELECT count(*) FROM session_activity WHERE breakout_id = $1", breakout
        )
    assert stored == 0


async def test_changes_are_recorded_once_and_hosts_see_the_current_state(
    server: RunningServer, connect: Any
) -> None:
    breakout = new_breakout_id()
    host = await connect(server, server.token("host", role=Role.HOST))
    await host.call("watch-breakout", {"breakoutId": breakout})
    ada = await joined(server, connect, "ada", breakout)
    for state in ("visible", "visible", "playing"):  # the second says nothing new
        assert (await report(ada, breakout, state))["ok"] is True
    async with server.pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT state FROM session_activity WHERE breakout_id = $1 ORDER BY at", breakout
        )
    assert [row["state"] for row in rows] == ["visible", "playing"]

    deadline = asyncio.get_running_loop().time() + 5
    seen: dict[str, Any] = {}
    while seen.get("activity") != "playing":
        assert asyncio.get_running_loop().time() < deadline, seen
        diff = await host.next("presence-diff")
        for change in diff.get("activities", []):
            seen = change
    assert seen["userId"] == "ada" and seen["since"].endswith("Z")
    watch = await host.call("watch-breakout", {"breakoutId": breakout})
    [viewer] = watch["viewers"]
    assert viewer["activity"] == "playing" and viewer["activitySince"] == seen["since"]

    # After a leave and a join again (a new session), nothing is known of it until it says.
    await ada.call("leave-chat-room", {"breakoutId": breakout})
    await ada.call("join-chat-room", {"breakoutId": breakout})
    watch = await host.call("watch-breakout", {"breakoutId": breakout})
    assert [v["activity"] for v in watch["viewers"]] == [None]
    assert (await report(ada, breakout, "playing"))["ok"] is True  # a change for this session


async def test_a_client_past_its_rate_is_refused_and_its_last_state_holds(
    make_server: Any, connect: Any
) -> None:
    server = await make_server(activity_rate_per_min=1)
    breakout = new_breakout_id()
    ada = await joined(server, connect, "ada", breakout)
    acks = [await report(ada, breakout, ("visible", "hidden")[n % 2]) for n in range(12)]
    codes = [ack["ok"] or ack["error"]["code"] for ack in acks]
    assert codes[:10] == [True] * 10 and "rate_limited" in codes[10:], codes
    async with server.pool.acquire() as connection:
        last = await connection.fetchval(
            "SELECT state FROM session_activity WHERE breakout_id = $1 ORDER BY at DESC LIMIT 1",
            breakout,
        )
    accepted = [("visible", "hidden")[n % 2] for n, ack in enumerate(acks) if ack["ok"]]
    assert last == accepted[-1]


async def test_reports_count_active_and_idle_time_and_comments(
    server: RunningServer, connect: Any, http: Any
) -> None:
    breakout = new_breakout_id()
    ada = await joined(server, connect, "ada", breakout)
    bob = await joined(server, connect, "bob", breakout)
    await report(ada, breakout, "playing")
    await ada.call("send-comment", {"breakoutId": breakout, "text": "hello"})
    await asyncio.sleep(0.4)
    await report(ada, breakout, "idle")
    await asyncio.sleep(0.2)
    for viewer in (ada, bob):
        await viewer.call("leave-chat-room", {"breakoutId": breakout})

    api = Api(http, server, "org-a")
    analyst = api.headers(Role.ANALYST)
    status, attendance = await api.call(
        "GET", f"/api/breakouts/{breakout}/attendance", headers=analyst
    )
    assert status == 200, attendance
    users = {user["userId"]: user for user in attendance["data"]["users"]}
    assert 0.35 < users["ada"]["activeSeconds"] < 1.5
    assert 0.15 < users["ada"]["idleSeconds"] < 1.0
    assert users["ada"]["comments"] == 1 and users["bob"]["comments"] == 0
    assert users["bob"]["activeSeconds"] == users["bob"]["idleSeconds"] == 0  # never said

    status, body = await api.call("GET", f"/api/breakouts/{breakout}/analytics", headers=analyst)
    assert status == 200, body
    analytics = body["data"]
    rows = {user["userId"]: user for user in analytics["users"]}
    ada_row = rows["ada"]
    parts = ("activeSeconds", "idleSeconds", "pausedSeconds", "hiddenSeconds", "unknownSeconds")
    assert abs(sum(ada_row[p] for p in parts) - ada_row["attendedSeconds"]) < 0.01
    assert abs(ada_row["attendedSeconds"] - users["ada"]["attendedSeconds"]) < 0.01
    assert rows["bob"]["unknownSeconds"] == rows["bob"]["attendedSeconds"] > 0
    assert ada_row["sessions"] == 1 and ada_row["devices"] == 1 and ada_row["comments"] == 1
    assert sum(ada_row["deviceMix"].values()) == 1 and sum(ada_row["locationMix"].values()) == 1
    summary = analytics["summary"]
    assert (summary["users"], summary["comments"], summary["commenters"]) == (2, 1, 1)
    assert summary["reportingUsers"] == 1
    assert 0 < summary["activeShare"] < 1

    status, export = await api.text(
        f"/api/breakouts/{breakout}/analytics?format=csv", headers=analyst
    )
    table = list(csv.DictReader(io.StringIO(export)))
    assert {row["userId"] for row in table} == {"ada", "bob"}
    ada_csv = next(row for row in table if row["userId"] == "ada")
    assert json.loads(ada_csv["deviceMix"]) == ada_row["deviceMix"]

    status, _ = await api.call(
        "GET", f"/api/breakouts/{breakout}/analytics", headers=api.headers(Role.ATTENDEE, "ada")
    )
    assert status == 403
