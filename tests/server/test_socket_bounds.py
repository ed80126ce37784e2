"""What one socket can make the server hold is bounded (issue 13, B5): no binary attachments,
every frame counted, and a socket that does not read is dropped before its backlog grows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from handlers.keys import PRESENCE, SIO
from models.domain.records import Role, now_ms, org_place
from models.live.presence import Viewer
from tests.support.clients import RawSocket
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer


async def closed_by_the_server(raw: RawSocket, timeout_s: float = 10) -> bool:
    """Read (and drop) what comes until the server closes the connection."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        try:
            message = await asyncio.wait_for(raw.ws.receive(), deadline - loop.time())
        except TimeoutError:
            return False
        if message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}:
            return True
        if message.type == aiohttp.WSMsgType.TEXT and message.data == "2":
            await raw.ws.send_str("3")  # alive, just misbehaving
    return False


async def engine_sockets(server: RunningServer) -> int:
    await asyncio.sleep(0.2)
    return len(server.app[SIO].eio.sockets)


async def test_a_binary_packet_closes_the_connection(server: RunningServer) -> None:
    raw = await RawSocket.connect(server.url, server.token())
    # A BINARY_EVENT announcing ten thousand million attachments, then attachments.
    await raw.ws.send_str('59999999999-["join-chat-room",{"_placeholder":true,"num":0}]')
    for _ in range(50):
        await raw.ws.send_bytes(b"\x00" * 10_000)
    assert await closed_by_the_server(raw)
    await raw.close()
    assert await engine_sockets(server) == 0


async def test_a_frame_that_is_not_engine_io_ends_the_connection_cleanly(
    server: RunningServer,
) -> None:
    """python-engineio let the decoding error escape its websocket handler: aiohttp wrote an
    HTTP 500 into the websocket stream and the Engine.IO socket lived on until its ping timed
    out. Now the connection closes (a close frame) and the socket goes with it."""
    raw = await RawSocket.connect(server.url, server.token())
    joined = await raw.call("join-chat-room", {"breakoutId": new_breakout_id()})
    assert joined["ok"] is True, joined
    await raw.ws.send_str("x")
    message = await asyncio.wait_for(raw.ws.receive(), 10)
    assert message.type == aiohttp.WSMsgType.CLOSE, message
    await raw.close()
    assert await engine_sockets(server) == 0


async def test_frames_that_are_not_events_count_too(make_server: Any) -> None:
    server = await make_server(event_rate_per_s=5, event_burst=5, flood_disconnect_after=20)
    raw = await RawSocket.connect(server.url, server.token())
    for ack_id in range(200):  # acks of nothing: no event limit ever saw these
        await raw.ws.send_str(f"43{ack_id}[]")
    assert await closed_by_the_server(raw)
    await raw.close()


async def test_a_socket_that_does_not_read_is_dropped_before_its_backlog_grows(
    make_server: Any,
) -> None:
    server = await make_server(
        event_rate_per_s=100_000, event_burst=100_000, max_queued_bytes=256 * 1024
    )
    breakout = new_breakout_id()
    host = await RawSocket.connect(server.url, server.token("h1", role=Role.HOST))
    first = await host.call("watch-breakout", {"breakoutId": breakout})
    assert first["ok"] is True
    presence = server.app[PRESENCE]
    for n in range(100):  # a big class: every watch ack is ~30 KB
        viewer = Viewer(f"u{n}", "N" * 200, f"s{n}", now_ms(), "London", "GB", "Chrome", "OS", "x")
        await presence.add(org_place("org-a", breakout), viewer)

    request = "42" + json.dumps(["watch-breakout", {"breakoutId": breakout}])
    for ack_id in range(1000):  # ~30 MB of acks asked for, none read
        await host.ws.send_str(request.replace("42", f"42{ack_id}", 1))
    dropped = False
    for _ in range(100):
        if await engine_sockets(server) == 0:
            dropped = True
            break
    await host.close()
    assert dropped


async def test_one_answer_bigger_than_the_bound_is_sent_to_a_socket_that_reads(
    make_server: Any,
) -> None:
    server = await make_server(max_queued_bytes=64 * 1024)
    breakout = new_breakout_id()
    presence = server.app[PRESENCE]
    for n in range(500):  # a watch ack of ~150 KB: more than may wait, but nothing waits first
        viewer = Viewer(f"u{n}", "N" * 200, f"s{n}", now_ms(), "London", "GB", "Chrome", "OS", "x")
        await presence.add(org_place("org-a", breakout), viewer)
    host = await RawSocket.connect(server.url, server.token("h1", role=Role.HOST))
    for _ in range(3):  # read each time: nothing piles up
        ack = await host.call("watch-breakout", {"breakoutId": breakout})
        assert ack["ok"] is True and len(ack["viewers"]) == 500
    assert await engine_sockets(server) == 1
    await host.close()


async def stalled(server: RunningServer, sent: bytes, wait_s: float) -> bytes:
    """What the server answers a client that sends `sent` and then nothing, within `wait_s`."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(sent)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(4096), wait_s)  # b"": the server closed it
    finally:
        writer.close()


async def test_a_request_line_that_never_ends_is_cut_off(make_server: Any) -> None:
    server = await make_server(http_read_timeout_s=1)
    assert await stalled(server, b"GET /api/breako", wait_s=5) == b""  # closed, no answer


async def test_a_body_that_trickles_is_answered_408(make_server: Any) -> None:
    server = await make_server(http_read_timeout_s=1)
    token = server.token("admin", role=Role.ADMIN)
    head = (
        "POST /api/schools HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n"
    )
    answer = await stalled(server, head.encode() + b'{"name": "Hi', wait_s=5)
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer


async def test_websockets_decline_deflate_unless_it_is_switched_on(make_server: Any) -> None:
    """A browser offers per-message deflate; taking it would compress every frame once per
    recipient and keep a compressor per connection, so only WS_COMPRESSION=on accepts it."""
    for compression, negotiated in ((False, 0), (True, 15)):
        server = await make_server(websocket_compression=compression)
        breakout = new_breakout_id()
        for _ in range(2):  # the second join's last-comments follow its ack in one write, or not
            raw = await RawSocket.connect(server.url, server.token(), deflate=True)
            assert raw.ws.compress == negotiated
            joined = await raw.call("join-chat-room", {"breakoutId": breakout})
            assert joined["ok"] is True, joined
            assert (await raw.receive()).startswith('42["last-comments"')
            await raw.close()
