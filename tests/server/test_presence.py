"""The host view on one node: presence-diff events, coalescing, the HTTP snapshot."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from models.domain.records import Role
from tests.support.clients import Viewer
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer


async def diffs_until(host: Viewer, done: Any, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """presence-diff events until `done(joins, leaves)` holds for everything received."""
    received: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        received.append(await host.next("presence-diff", deadline - loop.time()))
        joins = [j for diff in received for j in diff["joins"]]
        leaves = [leave for diff in received for leave in diff["leaves"]]
        if done(joins, leaves):
            return received


async def test_hosts_get_joins_and_leaves_with_reasons(make_server: Any, connect: Any) -> None:
    server = await make_server(reconnect_grace_s=0)  # a lost connection leaves at once
    breakout, elsewhere = new_breakout_id(), new_breakout_id()
    host = await connect(server, server.token("h", role=Role.HOST))
    assert (await host.call("watch-breakout", {"breakoutId": breakout}))["count"] == 0
    leaver = await connect(server, server.token("u1", name="Leaver"))
    dropper = await connect(server, server.token("u2"))
    switcher = await connect(server, server.token("u3"))
    sessions = [
        (await viewer.call("join-chat-room", {"breakoutId": breakout}))["sessionId"]
        for viewer in (leaver, dropper, switcher)
    ]

    await leaver.call("leave-chat-room", {"breakoutId": breakout})
    await dropper.client.disconnect()
    await switcher.call("join-chat-room", {"breakoutId": elsewhere})

    diffs = await diffs_until(host, lambda joins, leaves: len(leaves) == 3)
    joins = [j for diff in diffs for j in diff["joins"]]
    leaves = [leave for diff in diffs for leave in diff["leaves"]]
    assert all(diff["breakoutId"] == breakout for diff in diffs)
    assert [j["sessionId"] for j in joins] == sessions
    assert joins[0]["name"] == "Leaver" and joins[0]["since"].endswith("Z")
    assert {(leave["userId"], leave["sessionId"], leave["reason"]) for leave in leaves} == {
        ("u1", sessions[0], "leave"),
        ("u2", sessions[1], "disconnect"),
        ("u3", sessions[2], "switched"),
    }
    await host.count_becomes(breakout, 0)


async def test_a_join_storm_is_coalesced_without_dropping_anyone(
    make_server: Any, connect: Any
) -> None:
    server = await make_server(presence_interval_ms=200, connect_burst=1000)
    breakout = new_breakout_id()
    host = await connect(server, server.token("h", role=Role.HOST))
    await host.call("watch-breakout", {"breakoutId": breakout})
    viewers = await asyncio.gather(*(connect(server, server.token(f"u{n}")) for n in range(40)))

    acks = await asyncio.gather(
        *(v.call("join-chat-room", {"breakoutId": breakout}) for v in viewers)
    )

    diffs = await diffs_until(host, lambda joins, leaves: len(joins) >= 40)
    joined = sorted(j["sessionId"] for diff in diffs for j in diff["joins"])
    assert joined == sorted(ack["sessionId"] for ack in acks)
    assert len(diffs) < 10  # 40 joins, a handful of events
    await host.count_becomes(breakout, 40)


async def test_presence_over_http(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    breakout = new_breakout_id()
    viewer = await connect(server, server.token("u1"))
    joined = await viewer.call("join-chat-room", {"breakoutId": breakout})
    url = f"{server.url}/api/breakouts/{breakout}/presence"

    for role, org, status in [
        (Role.HOST, "org-a", 200),
        (Role.ADMIN, "org-a", 200),
        (Role.ATTENDEE, "org-a", 403),
        (Role.ANALYST, "org-a", 403),
        (Role.HOST, "org-b", 404),  # another org's: as if unknown
    ]:
        headers = {"Authorization": f"Bearer {server.token('x', role=role, org=org)}"}
        async with http.get(url, headers=headers) as response:
            assert response.status == status, (role, org)
            body = (await response.json()).get("data")
        if status == 200:
            assert body["count"] == 1 and body["breakoutId"] == breakout
            assert body["viewers"][0]["sessionId"] == joined["sessionId"]
    headers = {"Authorization": f"Bearer {server.token('x', role=Role.HOST)}"}
    async with http.get(
        f"{server.url}/api/breakouts/{new_breakout_id()}/presence", headers=headers
    ) as response:
        assert response.status == 404


async def test_ending_a_breakout_closes_every_session_and_refuses_joins(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    breakout = new_breakout_id()
    viewers = [await connect(server, server.token(f"u{n}")) for n in range(2)]
    joined = [await v.call("join-chat-room", {"breakoutId": breakout}) for v in viewers]
    url = f"{server.url}/api/breakouts/{breakout}/end"

    refusals = [(Role.ATTENDEE, "org-a", 403), (Role.ANALYST, "org-a", 403)]
    for role, org, status in [*refusals, (Role.HOST, "org-b", 404)]:  # org-b: as if unknown
        headers = {"Authorization": f"Bearer {server.token('x', role=role, org=org)}"}
        async with http.post(url, headers=headers) as response:
            assert response.status == status
    host = {"Authorization": f"Bearer {server.token('h', role=Role.HOST)}"}
    async with http.post(url, headers=host) as response:
        assert response.status == 200
        ended = (await response.json())["data"]

    assert ended["breakoutId"] == breakout and ended["endedAt"].endswith("Z")
    for viewer, ack in zip(viewers, joined, strict=True):
        assert await viewer.next("breakout-ended") == ended
        row = await server.session_row(ack["sessionId"])
        assert row["exit_reason"] == "breakout_ended"
        assert row["exit_ts"] == datetime.fromisoformat(ended["endedAt"])
        assert viewer.client.connected
    late = await connect(server, server.token("late"))
    refused = await late.call("join-chat-room", {"breakoutId": breakout})
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"
    assert "ended" in refused["error"]["message"]
    async with http.post(url, headers=host) as response:  # ending again changes nothing
        assert (await response.json())["data"] == ended
    async with http.post(
        f"{server.url}/api/breakouts/{new_breakout_id()}/end", headers=host
    ) as response:
        assert response.status == 404


async def test_hosts_create_and_update_breakouts_and_their_device_limit_applies(
    make_server: Any, connect: Any, http: aiohttp.ClientSession
) -> None:
    server = await make_server(auto_create_breakouts=False)
    breakout = new_breakout_id()
    url = f"{server.url}/api/breakouts/{breakout}"
    host = {"Authorization": f"Bearer {server.token('h', role=Role.HOST)}"}
    spec = {
        "name": "Maths 101",
        "startsAt": "2026-11-21T09:00:00Z",
        "endsAt": "2026-11-21T10:00:00+00:00",
        "deviceLimit": 2,
    }

    async with http.put(url, json=spec, headers=host) as response:
        assert response.status == 200
        created = (await response.json())["data"]
    assert created == {
        "breakoutId": breakout,
        "orgId": "org-a",
        "name": "Maths 101",
        "startsAt": "2026-11-21T09:00:00.000Z",
        "endsAt": "2026-11-21T10:00:00.000Z",
        "endedAt": None,
        "deviceLimit": 2,
        "presentMinMinutes": None,
        "presentMinPercent": None,
    }
    token = server.token("u1")
    tabs = [await connect(server, token) for _ in range(2)]
    for tab in tabs:  # a limit of 2: the second tab expels nobody
        assert (await tab.call("join-chat-room", {"breakoutId": breakout}))["ok"]
    with pytest.raises(asyncio.TimeoutError):
        await tabs[0].next("playback", timeout_s=0.5)

    async with http.put(url, json={**spec, "deviceLimit": 1}, headers=host) as response:
        assert (await response.json())["data"]["deviceLimit"] == 1
    third = await connect(server, token)
    assert (await third.call("join-chat-room", {"breakoutId": breakout}))["ok"]
    assert await tabs[0].next("playback") == "device-limit-exceeded"
    assert await tabs[1].next("playback") == "device-limit-exceeded"


@pytest.mark.parametrize(
    ("role", "org", "body", "status"),
    [
        (Role.ATTENDEE, "org-a", {}, 403),
        (Role.ANALYST, "org-a", {}, 403),
        (Role.HOST, "org-b", {}, 200),  # creates org-b's own; org-a's is untouched
        (Role.HOST, "org-a", {"deviceLimit": -1}, 422),
        (Role.HOST, "org-a", {"deviceLimit": True}, 422),
        (Role.HOST, "org-a", {"startsAt": "2026-11-21T09:00:00"}, 422),
        (Role.HOST, "org-a", {"startsAt": "2026-11-21T10:00Z", "endsAt": "2026-11-21T09:00Z"}, 422),
        (Role.HOST, "org-a", {"name": ""}, 422),
        (Role.HOST, "org-a", [], 422),
    ],
)
async def test_breakout_updates_are_checked(
    server: RunningServer,
    http: aiohttp.ClientSession,
    role: Role,
    org: str,
    body: Any,
    status: int,
) -> None:
    breakout = new_breakout_id()
    owner = {"Authorization": f"Bearer {server.token('h', role=Role.HOST)}"}
    async with http.put(f"{server.url}/api/breakouts/{breakout}", json={}, headers=owner) as r:
        assert r.status == 200
    headers = {"Authorization": f"Bearer {server.token('x', role=role, org=org)}"}
    async with http.put(
        f"{server.url}/api/breakouts/{breakout}", json=body, headers=headers
    ) as response:
        assert response.status == status
        if status != 200:
            assert response.content_type == "application/problem+json"
    async with server.pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT org_id, device_limit FROM breakouts WHERE org_id = 'org-a' AND id = $1",
            breakout,
        )
    assert (row["org_id"], row["device_limit"]) == ("org-a", None)  # org-a's is untouched
