"""Contract: the official JavaScript socket.io-client against the real server (browsers' client)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handlers.keys import SIO
from models.domain.records import Role
from tests.contract.scripts import node_executable, run_script
from tests.support.geo import LONDON_IP
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer

HERE = Path(__file__).parent
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def node() -> str:
    return node_executable()


async def run_viewer_contract(server: RunningServer, breakout: str) -> dict[str, Any]:
    user = server.token("js-user", name="JS User")
    return await run_script("viewer.mjs", server.url, user, breakout, LONDON_IP, FIREFOX)


async def test_browser_client_joins_leaves_and_is_refused_cleanly(
    node: str, server: RunningServer
) -> None:
    breakout = new_breakout_id()

    result = await run_viewer_contract(server, breakout)

    join, leave = result["join"], result["leave"]
    assert join["ok"] is True and join["breakoutId"] == breakout
    assert join["entryTimestamp"].endswith("Z")
    assert result["rejoin"] == join
    assert leave == {
        "ok": True,
        "sessionId": join["sessionId"],
        "exitTimestamp": leave["exitTimestamp"],
    }
    assert result["transport"] == "websocket"  # upgraded from long-polling
    assert {"breakoutId": breakout, "count": 1} in result["counts"]

    codes = [ack["error"]["code"] for ack in result["garbage"]]
    assert codes == ["invalid_payload"] * len(result["garbage"])
    assert all(ack["ok"] is False and ack["error"]["message"] for ack in result["garbage"])
    assert result["afterGarbage"]["ok"] is True

    assert result["refused"] == [
        {
            "message": "unauthorized",
            "data": {"code": "unauthorized", "message": "the token is not valid"},
        },
        {
            "message": "unauthorized",
            "data": {"code": "unauthorized", "message": "a token is required"},
        },
    ]

    left = await server.session_row(join["sessionId"])
    assert left["exit_reason"] == "leave" and left["exit_ts"] is not None
    assert (left["user_id"], left["user_name"]) == ("js-user", "JS User")
    assert (left["city"], left["country_code"]) == ("London", "GB")
    assert (left["browser"], left["os"], left["device_type"]) == ("Firefox", "Linux", "desktop")

    vanished = await wait_for_exit(server, result["vanishingJoin"]["sessionId"])
    assert vanished["exit_reason"] == "disconnect"

    # What an analyst then reads back for the breakout.
    analyst = server.token("analyst-1", role=Role.ANALYST)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{server.url}/api/breakouts/{breakout}/sessions",
            headers={"Authorization": f"Bearer {analyst}"},
        ) as response,
    ):
        sessions = {row["sessionId"]: row for row in (await response.json())["data"]}
    row = sessions[join["sessionId"]]
    assert row["exitReason"] == "leave" and row["attended"] is True
    assert row["entryTimestamp"] == join["entryTimestamp"]
    assert row["exitTimestamp"] == leave["exitTimestamp"]
    assert (row["city"], row["countryCode"], row["browser"], row["os"]) == (
        "London",
        "GB",
        "Firefox",
        "Linux",
    )
    assert sessions[result["vanishingJoin"]["sessionId"]]["exitReason"] == "disconnect"


async def wait_for_exit(server: RunningServer, session_id: str) -> Any:
    for _ in range(100):
        row = await server.session_row(session_id)
        if row is not None and row["exit_ts"] is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"session {session_id} was never closed")


async def test_host_events_with_the_browser_client(node: str, server: RunningServer) -> None:
    breakout = new_breakout_id()
    result = await run_script(
        "host.mjs",
        server.url,
        server.token("js-host", name="JS Host", role=Role.HOST),
        server.token("js-viewer", name="JS Viewer"),
        breakout,
    )

    assert result["watch"] == {"ok": True, "count": 0, "viewers": []}
    first = result["join1"]["sessionId"]
    [joined] = [j for j in result["joinDiff"]["joins"] if j["sessionId"] == first]
    assert joined["userId"] == "js-viewer" and joined["name"] == "JS Viewer"
    assert joined["since"] == result["join1"]["entryTimestamp"]
    assert set(joined) == {
        "userId",
        "name",
        "sessionId",
        "since",
        "city",
        "countryCode",
        "browser",
        "os",
        "device",
        "state",
        "awaySince",
        "activity",
        "activitySince",
    }
    assert joined["state"] == "live" and joined["awaySince"] is None
    assert joined["activity"] is None and joined["activitySince"] is None  # nothing said yet
    assert result["count1"] == {"breakoutId": breakout, "count": 1}

    assert result["playback"] == "device-limit-exceeded"
    expelled = {"userId": "js-viewer", "sessionId": first, "reason": "device_limit"}
    [leave] = [x for x in result["expelDiff"]["leaves"] if x["sessionId"] == first]
    assert leave == expelled | {"exitTimestamp": leave["exitTimestamp"]}
    assert leave["exitTimestamp"].endswith("Z")

    assert result["endStatus"] == 200
    assert result["breakoutEnded"] == result["end"]
    assert result["end"]["breakoutId"] == breakout
    second = result["join2"]["sessionId"]
    [ended] = [x for x in result["endDiff"]["leaves"] if x["sessionId"] == second]
    assert (
        ended["reason"] == "breakout_ended" and ended["exitTimestamp"] == result["end"]["endedAt"]
    )
    assert result["unwatch"] == {"ok": True}
    assert (await server.session_row(first))["exit_reason"] == "device_limit"
    assert (await server.session_row(second))["exit_reason"] == "breakout_ended"


async def test_the_js_clients_own_reconnection_resumes_the_stay(
    node: str, server: RunningServer
) -> None:
    """The README's pattern: the app passes its last sessionId on every (re)join. The server
    drops the connection (a network blip); socket.io-client reconnects by itself; the stay is
    one session with the gap left out."""
    breakout = new_breakout_id()
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / "reconnect.mjs"),
        server.url,
        server.token("js-user", name="JS User"),
        breakout,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None

    async def line() -> Any:
        assert process.stdout is not None and process.stderr is not None
        text = await asyncio.wait_for(process.stdout.readline(), 30)
        assert text, (await process.stderr.read()).decode()
        return json.loads(text)

    first = await line()
    assert first["event"] == "joined" and first["ack"]["resumed"] is False
    for engine_socket in list(server.runner.app[SIO].eio.sockets.values()):
        engine_socket.drop()  # the TCP connection is cut: no close frame, no leave
    events = [await line() for _ in range(3)]
    assert await asyncio.wait_for(process.wait(), 30) == 0, await process.stderr.read()

    assert [e["event"] for e in events] == ["disconnected", "joined", "left"]
    assert events[0]["reason"] == "transport close"
    again = events[1]["ack"]
    assert again["resumed"] is True and again["sessionId"] == first["ack"]["sessionId"]
    row = await server.session_row(again["sessionId"])
    assert row["exit_reason"] == "leave" and row["interruptions"] == 1
    assert 0 < row["interrupted_seconds"] < 5
