"""End to end: a real server, real PostgreSQL, the Python Socket.IO client over websockets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio

from config import load_settings
from handlers.keys import BREAKOUTS
from models.domain.records import Role
from tests.support.clients import IPHONE, RawSocket
from tests.support.geo import LONDON, LONDON_IP
from tests.support.records import new_breakout_id, sessions_in
from tests.support.servers import RunningServer


def parse_ts(text: str) -> datetime:
    assert text.endswith("Z") and len(text) == len("2026-11-21T09:30:00.123Z")
    return datetime.fromisoformat(text)


async def test_join_opens_a_session_acked_after_commit(server: RunningServer, connect: Any) -> None:
    viewer = await connect(server, server.token("u1"))
    breakout = new_breakout_id()

    ack = await viewer.call("join-chat-room", {"breakoutId": breakout})

    assert ack["ok"] is True and ack["breakoutId"] == breakout
    assert len(ack["sessionId"]) >= 16
    # The ack is only sent after the commit: the row is already visible to anyone.
    row = await server.session_row(ack["sessionId"])
    assert row is not None
    assert row["entry_ts"] == parse_ts(ack["entryTimestamp"])
    assert row["exit_ts"] is None and row["session_type"] == "live"
    assert row["user_id"] == "u1" and row["user_name"] == "Ada Lovelace"
    assert row["org_id"] == "org-a" and row["breakout_id"] == breakout
    await viewer.count_becomes(breakout, 1)


async def test_leave_records_exit_once(server: RunningServer, connect: Any) -> None:
    viewer = await connect(server, server.token())
    breakout = new_breakout_id()
    joined = await viewer.call("join-chat-room", {"breakoutId": breakout, "type": "on_demand"})

    left = await viewer.call("leave-chat-room", {"breakoutId": breakout})

    assert left["ok"] is True and left["sessionId"] == joined["sessionId"]
    row = await server.session_row(joined["sessionId"])
    assert row["exit_reason"] == "leave" and row["session_type"] == "on_demand"
    assert row["exit_ts"] == parse_ts(left["exitTimestamp"]) >= row["entry_ts"]
    # Leaving again: nothing is open any more, and the stored exit does not move.
    again = await viewer.call("leave-chat-room", {"breakoutId": breakout})
    assert again["ok"] is False and again["error"]["code"] == "not_joined"
    await viewer.client.disconnect()
    await asyncio.sleep(0.2)
    assert (await server.session_row(joined["sessionId"]))["exit_ts"] == row["exit_ts"]


async def test_disconnect_without_leave_closes_with_reason_disconnect(
    make_server: Any, connect: Any
) -> None:
    server = await make_server(reconnect_grace_s=0)  # no window to resume: it leaves at once
    watcher = await connect(server, server.token("u2"))
    viewer = await connect(server, server.token("u1"))
    breakout = new_breakout_id()
    await watcher.call("join-chat-room", {"breakoutId": breakout})
    joined = await viewer.call("join-chat-room", {"breakoutId": breakout})
    await watcher.count_becomes(breakout, 2)

    await viewer.client.disconnect()

    await watcher.count_becomes(breakout, 1)
    row = await server.session_row(joined["sessionId"])
    assert row["exit_reason"] == "disconnect" and row["exit_ts"] >= row["entry_ts"]


async def test_joining_another_breakout_switches(server: RunningServer, connect: Any) -> None:
    watcher = await connect(server, server.token("u2"))
    viewer = await connect(server, server.token())
    first, second = new_breakout_id(), new_breakout_id()
    await watcher.call("join-chat-room", {"breakoutId": first})
    one = await viewer.call("join-chat-room", {"breakoutId": first})
    await watcher.count_becomes(first, 2)

    two = await viewer.call("join-chat-room", {"breakoutId": second})

    assert two["ok"] is True and two["sessionId"] != one["sessionId"]
    old = await server.session_row(one["sessionId"])
    assert old["exit_reason"] == "switched"
    assert old["exit_ts"] <= parse_ts(two["entryTimestamp"])
    assert (await server.session_row(two["sessionId"]))["exit_ts"] is None
    # The old room hears the count drop; the switching socket, now out of it, hears its new room.
    await watcher.count_becomes(first, 1)
    await viewer.count_becomes(second, 1)
    # Only the current breakout can be left.
    wrong = await viewer.call("leave-chat-room", {"breakoutId": first})
    assert wrong["error"]["code"] == "not_joined"


async def test_rejoining_the_same_breakout_returns_the_open_session(
    server: RunningServer, connect: Any
) -> None:
    viewer = await connect(server, server.token())
    breakout = new_breakout_id()
    first = await viewer.call("join-chat-room", {"breakoutId": breakout})

    second = await viewer.call("join-chat-room", {"breakoutId": breakout})

    assert second == first
    assert await sessions_in(server.pool, breakout) == 1


async def test_two_tabs_of_one_user_have_two_sessions_when_the_limit_allows(
    make_server: Any, connect: Any
) -> None:
    server = await make_server(playback_device_limit=2)
    token = server.token("u1")
    tab_one, tab_two = await connect(server, token), await connect(server, token)
    breakout = new_breakout_id()

    one = await tab_one.call("join-chat-room", {"breakoutId": breakout})
    two = await tab_two.call("join-chat-room", {"breakoutId": breakout})
    await tab_one.call("leave-chat-room", {"breakoutId": breakout})

    assert one["sessionId"] != two["sessionId"]
    assert (await server.session_row(one["sessionId"]))["exit_reason"] == "leave"
    assert (await server.session_row(two["sessionId"]))["exit_ts"] is None


async def test_a_join_over_the_device_limit_expels_the_oldest_session(
    server: RunningServer, connect: Any
) -> None:
    token = server.token("u1")
    old_tab, new_tab = await connect(server, token), await connect(server, token)
    breakout = new_breakout_id()
    old = await old_tab.call("join-chat-room", {"breakoutId": breakout})

    new = await new_tab.call("join-chat-room", {"breakoutId": breakout})

    assert new["ok"] is True
    assert await old_tab.next("playback") == "device-limit-exceeded"
    expelled = await server.session_row(old["sessionId"])
    assert expelled["exit_reason"] == "device_limit" and expelled["exit_ts"] is not None
    assert (await server.session_row(new["sessionId"]))["exit_ts"] is None
    # The expelled tab is out of the room and has nothing left to leave.
    assert (await old_tab.call("leave-chat-room", {"breakoutId": breakout}))["error"][
        "code"
    ] == "not_joined"
    assert old_tab.client.connected


async def test_a_breakouts_own_device_limit_wins(server: RunningServer, connect: Any) -> None:
    breakout = new_breakout_id()
    token = server.token("u1")
    tabs = [await connect(server, token) for _ in range(3)]
    first = await tabs[0].call("join-chat-room", {"breakoutId": breakout})
    async with server.pool.acquire() as connection:
        await connection.execute("UPDATE breakouts SET device_limit = 2 WHERE id = $1", breakout)
    server.app[BREAKOUTS].forget("org-a", breakout)

    second = await tabs[1].call("join-chat-room", {"breakoutId": breakout})
    assert (await server.session_row(first["sessionId"]))["exit_ts"] is None
    await tabs[2].call("join-chat-room", {"breakoutId": breakout})

    assert await tabs[0].next("playback") == "device-limit-exceeded"
    assert (await server.session_row(first["sessionId"]))["exit_reason"] == "device_limit"
    assert (await server.session_row(second["sessionId"]))["exit_ts"] is None


async def test_concurrent_events_of_one_socket_keep_one_open_session(
    server: RunningServer, connect: Any
) -> None:
    viewer = await connect(server, server.token())
    breakouts = [new_breakout_id() for _ in range(5)]

    acks = await asyncio.gather(
        *(viewer.call("join-chat-room", {"breakoutId": b}) for b in breakouts)
    )

    assert all(ack["ok"] for ack in acks)
    async with server.pool.acquire() as connection:
        open_rows = await connection.fetchval(
            "SELECT count(*) FROM attendance_sessions "
            "WHERE breakout_id = ANY($1) AND exit_ts IS NULL",
            breakouts,
        )
        switched = await connection.fetchval(
            "SELECT count(*) FROM attendance_sessions "
            "WHERE breakout_id = ANY($1) AND exit_reason = 'switched'",
            breakouts,
        )
    assert open_rows == 1 and switched == 4


async def test_enrichment_from_trusted_proxy_header_is_stored(
    server: RunningServer, connect: Any
) -> None:
    # The test client connects from 127.0.0.1, which the test servers trust as a proxy.
    viewer = await connect(
        server, server.token(), user_agent=IPHONE, forwarded_for=f"10.9.8.7, {LONDON_IP}"
    )
    joined = await viewer.call("join-chat-room", {"breakoutId": new_breakout_id()})

    row = await server.session_row(joined["sessionId"])
    assert {key: row[key] for key in LONDON} == LONDON
    assert row["ip"] == "81.2.69.0"  # IP_STORAGE=truncated by default
    assert (row["browser"], row["os"], row["device_type"]) == ("Mobile Safari", "iOS", "mobile")
    assert row["browser_version"] == "17.1" and row["os_version"] == "17.1"
    assert row["user_agent"] == IPHONE


async def test_by_default_a_forwarded_header_is_ignored_even_from_loopback(
    make_server: Any, connect: Any
) -> None:
    default = load_settings({}).trusted_proxies  # trusts no proxy
    server = await make_server(trusted_proxies=default)
    viewer = await connect(server, server.token(), forwarded_for=LONDON_IP)
    joined = await viewer.call("join-chat-room", {"breakoutId": new_breakout_id()})

    row = await server.session_row(joined["sessionId"])
    assert row["ip"] == "127.0.0.0" and row["city"] is None and row["country_code"] is None


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("join-chat-room", None),
        ("join-chat-room", "b1"),
        ("join-chat-room", ["b1"]),
        ("join-chat-room", {}),
        ("join-chat-room", {"breakoutId": 42}),
        ("join-chat-room", {"breakoutId": None}),
        ("join-chat-room", {"breakoutId": ""}),
        ("join-chat-room", {"breakoutId": "x" * 129}),
        ("join-chat-room", {"breakoutId": "room one"}),
        ("join-chat-room", {"breakoutId": "b1", "type": "vod"}),
        ("join-chat-room", {"breakoutId": "b1", "type": ["live"]}),
        ("leave-chat-room", {"breakoutId": {"$gt": ""}}),
        ("leave-chat-room", 3.5),
    ],
)
async def test_bad_payloads_get_invalid_payload_and_the_server_keeps_serving(
    server: RunningServer, connect: Any, event: str, payload: Any
) -> None:
    viewer = await connect(server, server.token())

    ack = await viewer.call(event, payload)

    assert ack["ok"] is False and ack["error"]["code"] == "invalid_payload"
    assert ack["error"]["message"]
    good = await viewer.call("join-chat-room", {"breakoutId": new_breakout_id()})
    assert good["ok"] is True


async def test_leave_without_join_is_not_joined(server: RunningServer, connect: Any) -> None:
    viewer = await connect(server, server.token())
    ack = await viewer.call("leave-chat-room", {"breakoutId": new_breakout_id()})
    assert ack["error"]["code"] == "not_joined"


@pytest.mark.parametrize(
    "token_kind", ["missing", "garbage", "expired", "wrong-secret", "bad-role"]
)
async def test_bad_tokens_are_refused_with_unauthorized(
    server: RunningServer, token_kind: str
) -> None:
    import jwt

    tokens: dict[str, str | None] = {
        "missing": None,
        "garbage": "not-a-jwt",
        "expired": server.token(ttl_s=-60),
        "wrong-secret": jwt.encode(
            {"sub": "u1", "org": "org-a", "role": "attendee", "exp": 9999999999},
            "another-secret-of-sufficient-length-0123456789",
        ),
        "bad-role": jwt.encode(
            {"sub": "u1", "org": "org-a", "role": "superuser", "exp": 9999999999},
            "test-secret-that-is-long-enough-for-hs256-0123456789",
        ),
    }
    client = socketio.AsyncClient(reconnection=False)
    refused: asyncio.Queue[Any] = asyncio.Queue()
    client.on("connect_error", refused.put_nowait)
    token = tokens[token_kind]
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.url,
            auth={"token": token} if token else None,
            transports=["websocket"],
            wait_timeout=5,
        )
    error = await asyncio.wait_for(refused.get(), 5)
    assert error["message"] == "unauthorized"
    assert error["data"]["code"] == "unauthorized"
    await client.disconnect()


async def test_unknown_breakout_is_not_found_when_auto_create_is_off(
    make_server: Any, connect: Any
) -> None:
    server = await make_server(auto_create_breakouts=False)
    viewer = await connect(server, server.token())
    ack = await viewer.call("join-chat-room", {"breakoutId": new_breakout_id()})
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"


async def test_the_same_breakout_id_in_two_orgs_is_two_breakouts(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    """Breakouts are keyed by (org, id): org-b cannot take org-a's id, nor see, count, end or
    read anything of org-a's breakout of the same id."""
    breakout = new_breakout_id()
    ours = await connect(server, server.token("u1", org="org-a"))
    theirs = await connect(server, server.token("u9", org="org-b"))
    mine = await ours.call("join-chat-room", {"breakoutId": breakout})
    other = await theirs.call("join-chat-room", {"breakoutId": breakout})
    assert mine["ok"] and other["ok"] and mine["sessionId"] != other["sessionId"]
    await ours.count_becomes(breakout, 1)  # one viewer each, never two
    await theirs.count_becomes(breakout, 1)

    host_b = {"Authorization": f"Bearer {server.token('hb', role=Role.HOST, org='org-b')}"}
    async with http.get(f"{server.url}/api/breakouts/{breakout}/presence", headers=host_b) as r:
        assert [v["userId"] for v in (await r.json())["data"]["viewers"]] == ["u9"]
    async with http.post(f"{server.url}/api/breakouts/{breakout}/end", headers=host_b) as r:
        assert r.status == 200
    assert (await theirs.next("breakout-ended"))["breakoutId"] == breakout
    with pytest.raises(asyncio.TimeoutError):  # org-a's breakout of that id goes on
        await ours.next("breakout-ended", timeout_s=0.5)
    assert (await server.session_row(mine["sessionId"]))["exit_ts"] is None
    assert (await server.session_row(other["sessionId"]))["exit_reason"] == "breakout_ended"


async def test_silent_client_exit_is_stamped_when_last_heard(
    make_server: Any, connect: Any
) -> None:
    server = await make_server(ping_interval_s=1, ping_timeout_s=1, reconnect_grace_s=0)
    watcher = await connect(server, server.token("w"))
    breakout = new_breakout_id()
    await watcher.call("join-chat-room", {"breakoutId": breakout})
    silent = await RawSocket.connect(server.url, server.token("u1"))
    joined = await silent.call("join-chat-room", {"breakoutId": breakout})
    await watcher.count_becomes(breakout, 2)

    # A frozen tab: the connection stays open but nothing is read or answered any more.
    await watcher.count_becomes(breakout, 1, timeout_s=10)
    noticed = datetime.now(UTC)
    await silent.close()

    row = await server.session_row(joined["sessionId"])
    assert row["exit_reason"] == "disconnect"
    # Stamped at the last pong, not when the timeout fired (a ping interval + timeout later).
    assert (noticed - row["exit_ts"]).total_seconds() >= 1.5
    assert row["exit_ts"] >= row["entry_ts"]


@pytest.mark.slow
async def test_a_frozen_client_alone_on_its_node_is_stamped_when_last_heard(
    server: RunningServer,
) -> None:
    """Default ping settings (25 s + 20 s) and one silent socket: Engine.IO's read timeout closes
    it as "transport close", not "ping timeout"; the exit is still its last packet's time."""
    silent = await RawSocket.connect(server.url, server.token("u1"))
    joined = await silent.call("join-chat-room", {"breakoutId": new_breakout_id()})
    last_heard = datetime.now(UTC)  # the join was its last packet: it answers no ping

    row = None
    for _ in range(70):  # Engine.IO gives up after 45 s
        row = await server.session_row(joined["sessionId"])
        if row is not None and row["exit_ts"] is not None:
            break
        await asyncio.sleep(1)
    noticed = datetime.now(UTC)
    await silent.close()

    assert row is not None and row["exit_reason"] == "disconnect"
    assert (noticed - last_heard).total_seconds() > 40  # noticed only at the timeout
    assert abs((row["exit_ts"] - last_heard).total_seconds()) < 2


async def test_graceful_stop_closes_open_sessions_with_reason_shutdown(
    server: RunningServer, connect: Any, db: asyncpg.Pool
) -> None:
    viewer = await connect(server, server.token())
    joined = await viewer.call("join-chat-room", {"breakoutId": new_breakout_id()})

    await server.stop()

    async with db.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT exit_reason, exit_ts FROM attendance_sessions WHERE session_id = $1",
            joined["sessionId"],
        )
    assert row["exit_reason"] == "shutdown" and row["exit_ts"] is not None


async def test_identity_comes_from_the_token_not_the_payload(
    server: RunningServer, connect: Any
) -> None:
    viewer = await connect(server, server.token("real-user", name="Real", role=Role.ATTENDEE))
    joined = await viewer.call(
        "join-chat-room", {"breakoutId": new_breakout_id(), "userId": "forged", "name": "Forged"}
    )
    row = await server.session_row(joined["sessionId"])
    assert (row["user_id"], row["user_name"]) == ("real-user", "Real")


@pytest.mark.parametrize(
    "frame",
    [
        '421["disconnect"]',
        '421["disconnect","ping timeout"]',
        '421["connect",{"token":"x"}]',
        '421[5,{"breakoutId":"b"}]',
        "421[null]",
    ],
)
async def test_clients_cannot_trigger_lifecycle_events(server: RunningServer, frame: str) -> None:
    raw = await RawSocket.connect(server.url, server.token())
    joined = await raw.call("join-chat-room", {"breakoutId": new_breakout_id()})

    await raw.ws.send_str(frame)
    answer = await raw.receive_ack()

    assert answer.startswith("431")
    assert '"invalid_payload"' in answer
    row = await server.session_row(joined["sessionId"])
    assert row["exit_ts"] is None  # still in the room: nothing was forged
    again = await raw.call("join-chat-room", {"breakoutId": joined["breakoutId"]})
    assert again == joined
    await raw.close()


async def test_a_switch_whose_new_open_fails_leaves_the_old_room_too(
    server: RunningServer, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.keys import SIO
    from models.domain.errors import Unavailable
    from models.writes.writer import SessionWriter

    viewer = await connect(server, server.token())
    first = new_breakout_id()
    joined = await viewer.call("join-chat-room", {"breakoutId": first})

    async def refuse(self: SessionWriter, session: Any) -> None:
        raise Unavailable("the attendance database is unavailable; try again")

    monkeypatch.setattr(SessionWriter, "open_session", refuse)
    ack = await viewer.call("join-chat-room", {"breakoutId": new_breakout_id()})

    assert ack["error"]["code"] == "unavailable"
    assert (await server.session_row(joined["sessionId"]))["exit_reason"] == "switched"
    sid = viewer.client.get_sid("/")
    assert f"chat-room-{first}" not in server.app[SIO].rooms(sid)
    leave = await viewer.call("leave-chat-room", {"breakoutId": first})
    assert leave["error"]["code"] == "not_joined"
