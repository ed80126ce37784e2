"""A connection that opens over long-polling, as browsers' do by default, moves to a websocket
by Engine.IO's probe, and is then served as one that opened as a websocket."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from handlers.keys import SIO
from tests.support.clients import RawSocket, polling_sid, polling_url, upgrade_websocket
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer


def engine_socket(server: RunningServer) -> object:
    sockets = list(server.app[SIO].eio.sockets.values())
    assert len(sockets) == 1, sockets
    return sockets[0]


async def test_an_upgraded_connection_joins_and_leaves_over_its_websocket(
    server: RunningServer,
) -> None:
    raw = await RawSocket.upgraded(server.url, server.token())
    breakout = new_breakout_id()
    joined = await raw.call("join-chat-room", {"breakoutId": breakout})
    assert joined["ok"] is True, joined
    socket = engine_socket(server)
    assert getattr(socket, "upgraded", False) is True
    # Our reader and writer serve it: a send to it, idle, may go straight out.
    assert getattr(socket, "direct", None) is not None
    left = await raw.call("leave-chat-room", {"breakoutId": breakout})
    assert left["ok"] is True, left
    await raw.close()
    await asyncio.sleep(0.2)
    assert not server.app[SIO].eio.sockets


async def test_a_failed_probe_leaves_the_connection_on_long_polling(
    server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as session:
        sid = await polling_sid(session, server.url, server.token())
        ws = await upgrade_websocket(session, server.url, sid)
        await ws.send_str("2not-a-probe")
        await ws.close()
        socket = engine_socket(server)
        assert getattr(socket, "upgraded", True) is False
        # Still served over long-polling: an event posted is acked on the next poll.
        event = '421["join-chat-room",{"breakoutId":"' + new_breakout_id() + '"}]'
        async with session.post(polling_url(server.url, sid), data=event):
            pass
        async with session.get(polling_url(server.url, sid)) as response:
            answer = await response.text()
        assert answer.startswith('431[{"ok":true'), answer


async def test_an_upgrade_that_never_probes_is_given_up(make_server: Any) -> None:
    """python-engineio waited for the probe without end: a websocket opened to upgrade and
    left silent held its handler (and its connection) for good. It is closed after a ping
    interval + ping timeout."""
    server = await make_server(ping_interval_s=1, ping_timeout_s=1)
    async with aiohttp.ClientSession() as session:
        sid = await polling_sid(session, server.url, server.token())
        ws = await upgrade_websocket(session, server.url, sid)
        message = await asyncio.wait_for(ws.receive(), 10)  # nothing sent: the server gives up
        assert message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}, message
