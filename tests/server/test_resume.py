"""Resume within the grace window: a reconnect does not split a stay (real server, PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from models.domain.records import Role
from tests.support.clients import RawSocket
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer


async def exit_of(server: RunningServer, session_id: str, timeout_s: float = 10) -> Any:
    """The session's row once it is closed."""
    for _ in range(int(timeout_s * 20)):
        row = await server.session_row(session_id)
        if row is not None and row["exit_ts"] is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"session {session_id} still open")


async def interruptions(server: RunningServer, session_id: str) -> list[Any]:
    async with server.pool.acquire() as connection:
        return list(
            await connection.fetch(
                "SELECT left_at, back_at, left_node, back_node FROM session_interruptions"
                " WHERE session_id = $1 ORDER BY left_at",
                session_id,
            )
        )


async def closed_by_server(raw: RawSocket) -> bool:
    """Whether the server closes the connection (a Socket.IO disconnect or the websocket)."""
    for _ in range(20):
        frame = await asyncio.wait_for(raw.ws.receive(), 5)
        if frame.type != aiohttp.WSMsgType.TEXT or frame.data.startswith("41"):
            return True
    return False


async def test_a_blip_and_a_resume_are_one_session_that_leaves_the_gap_out(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    breakout = new_breakout_id()
    first = await RawSocket.connect(server.url, server.token("u1"))
    joined = await first.call("join-chat-room", {"breakoutId": breakout})
    assert joined["resumed"] is False
    await first.cut()
    closed = await exit_of(server, joined["sessionId"])
    assert closed["exit_reason"] == "disconnect"
    await asyncio.sleep(0.3)

    again = await connect(server, server.token("u1"))
    resumed = await again.call(
        "join-chat-room", {"breakoutId": breakout, "resumeSessionId": joined["sessionId"]}
    )
    back = datetime.now(UTC)

    assert resumed["ok"] is True and resumed["resumed"] is True
    assert resumed["sessionId"] == joined["sessionId"]
    assert resumed["entryTimestamp"] == joined["entryTimestamp"]
    row = await server.session_row(joined["sessionId"])
    assert row["exit_ts"] is None and row["interruptions"] == 1
    assert 0.3 <= row["interrupted_seconds"] < 2
    [gap] = await interruptions(server, joined["sessionId"])
    assert gap["left_at"] == closed["exit_ts"] and abs((gap["back_at"] - back).total_seconds()) < 1

    await again.call("leave-chat-room", {"breakoutId": breakout})
    headers = {"Authorization": f"Bearer {server.token('h', role=Role.HOST)}"}
    async with http.get(
        f"{server.url}/api/breakouts/{breakout}/sessions", headers=headers
    ) as response:
        [listed] = (await response.json())["data"]
    span = (row["entry_ts"] - datetime.fromisoformat(listed["exitTimestamp"])).total_seconds()
    assert listed["interruptions"] == 1 and listed["exitReason"] == "leave"
    assert listed["durationSeconds"] == pytest.approx(-span - listed["interruptedSeconds"])


async def test_a_client_that_reconnects_before_the_server_noticed_takes_its_session_back(
    server: RunningServer, connect: Any
) -> None:
    """The old connection is still open here (a half-open blip) but silent: it is let go at
    its last packet, and closed; the stay is one session."""
    breakout = new_breakout_id()
    frozen = await RawSocket.connect(server.url, server.token("u1"))
    joined = await frozen.call("join-chat-room", {"breakoutId": breakout})
    last_packet = datetime.now(UTC)
    await asyncio.sleep(1.5)  # silent for longer than a live client between two packets

    again = await connect(server, server.token("u1"))
    resumed = await again.call(
        "join-chat-room", {"breakoutId": breakout, "resumeSessionId": joined["sessionId"]}
    )

    assert resumed["resumed"] is True and resumed["sessionId"] == joined["sessionId"]
    [gap] = await interruptions(server, joined["sessionId"])
    assert abs((gap["left_at"] - last_packet).total_seconds()) < 0.2
    assert await closed_by_server(frozen)
    await frozen.close()
    await asyncio.sleep(0.3)
    assert (await server.session_row(joined["sessionId"]))["exit_ts"] is None  # still in


@pytest.mark.parametrize(
    "case", ["another user", "another breakout", "after a leave", "past the window", "unknown"]
)
async def test_what_is_not_a_resume_opens_a_new_session(
    make_server: Any, connect: Any, case: str
) -> None:
    server = await make_server(reconnect_grace_s=1)
    breakout = new_breakout_id()
    first = await RawSocket.connect(server.url, server.token("u1"))
    joined = await first.call("join-chat-room", {"breakoutId": breakout})
    if case == "after a leave":
        await first.call("leave-chat-room", {"breakoutId": breakout})
    await first.cut()
    await exit_of(server, joined["sessionId"])
    if case == "past the window":
        await asyncio.sleep(1.5)

    user = "u2" if case == "another user" else "u1"
    target = new_breakout_id() if case == "another breakout" else breakout
    resume_id = "no-such-session" if case == "unknown" else joined["sessionId"]
    again = await connect(server, server.token(user))
    ack = await again.call("join-chat-room", {"breakoutId": target, "resumeSessionId": resume_id})

    assert ack["ok"] is True and ack["resumed"] is False
    assert ack["sessionId"] != joined["sessionId"]
    assert (await server.session_row(joined["sessionId"]))["exit_ts"] is not None


async def test_a_session_already_resumed_is_not_resumed_again(
    server: RunningServer, connect: Any
) -> None:
    breakout = new_breakout_id()
    first = await RawSocket.connect(server.url, server.token("u1"))
    joined = await first.call("join-chat-room", {"breakoutId": breakout})
    await first.cut()
    await exit_of(server, joined["sessionId"])
    payload = {"breakoutId": breakout, "resumeSessionId": joined["sessionId"]}
    tabs = [await connect(server, server.token("u1")) for _ in range(2)]

    acks = await asyncio.gather(*(tab.call("join-chat-room", payload) for tab in tabs))

    assert sorted(ack["resumed"] for ack in acks) == [False, True]
    assert len({ack["sessionId"] for ack in acks}) == 2


async def test_an_ended_breakout_is_not_resumed(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    breakout = new_breakout_id()
    first = await RawSocket.connect(server.url, server.token("u1"))
    joined = await first.call("join-chat-room", {"breakoutId": breakout})
    await first.cut()
    await exit_of(server, joined["sessionId"])
    headers = {"Authorization": f"Bearer {server.token('h', role=Role.HOST)}"}
    async with http.post(f"{server.url}/api/breakouts/{breakout}/end", headers=headers) as ended:
        assert ended.status == 200

    again = await connect(server, server.token("u1"))
    ack = await again.call(
        "join-chat-room", {"breakoutId": breakout, "resumeSessionId": joined["sessionId"]}
    )
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    assert (await server.session_row(joined["sessionId"]))["exit_reason"] == "disconnect"


async def test_a_session_held_on_another_node_is_let_go_there_and_resumed_here(
    make_server: Any, redis_url: str, connect: Any
) -> None:
    first_node = await make_server(redis_url=redis_url)
    second_node = await make_server(redis_url=redis_url)
    breakout = new_breakout_id()
    frozen = await RawSocket.connect(first_node.url, first_node.token("u1"))
    joined = await frozen.call("join-chat-room", {"breakoutId": breakout})
    last_packet = datetime.now(UTC)
    await asyncio.sleep(1.5)

    again = await connect(second_node, second_node.token("u1"))
    resumed = await again.call(
        "join-chat-room", {"breakoutId": breakout, "resumeSessionId": joined["sessionId"]}
    )

    assert resumed["resumed"] is True and resumed["sessionId"] == joined["sessionId"]
    [gap] = await interruptions(second_node, joined["sessionId"])
    assert abs((gap["left_at"] - last_packet).total_seconds()) < 0.2
    assert gap["left_node"] != gap["back_node"]
    row = await second_node.session_row(joined["sessionId"])
    assert row["node_id"] == gap["back_node"] and row["exit_ts"] is None
    await frozen.close()


async def states_until(host: Any, done: Any, timeout_s: float = 10.0) -> list[Any]:
    """Every presence-diff entry (joins, states, leaves, in that order per diff) until
    `done(entries)` holds."""
    entries: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done(entries):
        diff = await host.next("presence-diff", deadline - loop.time())
        entries += [("join", j["sessionId"]) for j in diff["joins"]]
        entries += [(s["state"], s["sessionId"]) for s in diff["states"]]
        entries += [("leave", leave["sessionId"], leave) for leave in diff["leaves"]]
    return entries


async def test_hosts_see_a_lost_viewer_reconnecting_then_live_or_gone(
    make_server: Any, connect: Any
) -> None:
    """No flicker: a lost connection is `reconnecting` (still counted), a resume makes it
    `live` without a join, and a window that runs out is the leave, stamped when last heard."""
    server = await make_server(reconnect_grace_s=2)
    breakout = new_breakout_id()
    host = await connect(server, server.token("h", role=Role.HOST))
    await host.call("watch-breakout", {"breakoutId": breakout})
    first = await RawSocket.connect(server.url, server.token("u1"))
    joined = await first.call("join-chat-room", {"breakoutId": breakout})
    session = joined["sessionId"]
    await first.cut()
    entries = await states_until(host, lambda e: ("reconnecting", session) in e)
    assert entries == [("join", session), ("reconnecting", session)]
    [shown] = (await host.call("watch-breakout", {"breakoutId": breakout}))["viewers"]
    assert shown["state"] == "reconnecting" and shown["awaySince"] is not None

    again = await RawSocket.connect(server.url, server.token("u1"))
    await again.call("join-chat-room", {"breakoutId": breakout, "resumeSessionId": session})
    assert await states_until(host, lambda e: bool(e)) == [("live", session)]
    [shown] = (await host.call("watch-breakout", {"breakoutId": breakout}))["viewers"]
    assert shown["state"] == "live" and shown["awaySince"] is None

    await again.cut()
    closed = await exit_of(server, session)
    entries = await states_until(host, lambda e: any(entry[0] == "leave" for entry in e))
    assert [entry[:2] for entry in entries] == [("reconnecting", session), ("leave", session)]
    leave = entries[-1][2]
    assert leave["reason"] == "disconnect"
    assert datetime.fromisoformat(leave["exitTimestamp"]) == closed["exit_ts"]
    await host.count_becomes(breakout, 0)
