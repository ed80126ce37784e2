"""Clients that talk to a server under test: Socket.IO, and raw Engine.IO frames."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from tests.support.servers import RunningServer

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@dataclass
class Viewer:
    """A Python Socket.IO client that records every event it receives."""

    client: socketio.AsyncClient
    events: dict[str, asyncio.Queue[Any]] = field(default_factory=dict)

    def queue(self, event: str) -> asyncio.Queue[Any]:
        return self.events.setdefault(event, asyncio.Queue())

    async def call(self, event: str, payload: Any = None) -> Any:
        if payload is None:
            return await self.client.call(event, timeout=10)
        return await self.client.call(event, payload, timeout=10)

    async def next(self, event: str, timeout_s: float = 5.0) -> Any:
        return await asyncio.wait_for(self.queue(event).get(), timeout_s)

    async def count_becomes(self, breakout_id: str, count: int, timeout_s: float = 5.0) -> None:
        """Wait for a viewer-count of `count`: counts are coalesced, so steps may be skipped."""
        expected = {"breakoutId": breakout_id, "count": count}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (await self.next("viewer-count", deadline - loop.time())) != expected:
            pass


async def connect_viewer(
    server: RunningServer,
    token: str | None,
    *,
    user_agent: str = CHROME_MAC,
    forwarded_for: str | None = None,
    transports: list[str] | None = None,
) -> Viewer:
    client = socketio.AsyncClient(reconnection=False)
    viewer = Viewer(client)
    for event in (
        "viewer-count",
        "presence-diff",
        "playback",
        "breakout-ended",
        "fever-alert",
        "new-comment",
        "last-comments",
        "comment-deleted",
    ):
        client.on(event, viewer.queue(event).put_nowait)
    headers = {"User-Agent": user_agent}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    auth = {"token": token} if token is not None else None
    await client.connect(
        server.url,
        auth=auth,
        headers=headers,
        transports=transports or ["websocket"],
        wait_timeout=10,
    )
    return viewer


def polling_url(server_url: str, sid: str | None = None) -> str:
    url = server_url + "/socket.io/?EIO=4&transport=polling"
    return url if sid is None else f"{url}&sid={sid}"


async def polling_sid(session: aiohttp.ClientSession, server_url: str, token: str) -> str:
    """A connection opened over long-polling and connected to Socket.IO with `token`: its
    Engine.IO session id."""
    async with session.get(polling_url(server_url)) as response:
        sid: str = json.loads((await response.text())[1:])["sid"]
    async with session.post(polling_url(server_url, sid), data="40" + json.dumps({"token": token})):
        pass
    async with session.get(polling_url(server_url, sid)) as response:
        connected = await response.text()
        assert connected.startswith("40"), connected
    return sid


async def upgrade_websocket(
    session: aiohttp.ClientSession, server_url: str, sid: str
) -> aiohttp.ClientWebSocketResponse:
    """The websocket a long-polling connection upgrades to (before Engine.IO's probe)."""
    url = server_url.replace("http://", "ws://")
    return await session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket&sid={sid}")


class RawSocket:
    """Engine.IO v4 / Socket.IO v5 spoken by hand over an aiohttp websocket.

    For what a well-behaved client library will not do: go silent without closing (a frozen
    tab, a lost network), or send malformed frames.
    """

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self._session = session
        self.ws = ws
        self._ack_id = 0

    @classmethod
    async def connect(cls, server_url: str, token: str, *, deflate: bool = False) -> RawSocket:
        """With `deflate`, the handshake offers per-message deflate, as browsers do."""
        session = aiohttp.ClientSession()
        url = server_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        ws = await session.ws_connect(url, compress=15 if deflate else 0)
        raw = cls(session, ws)
        opened = await raw.receive()
        assert opened.startswith("0"), opened
        await ws.send_str("40" + json.dumps({"token": token}))
        connected = await raw.receive()
        assert connected.startswith("40"), connected
        return raw

    @classmethod
    async def upgraded(cls, server_url: str, token: str) -> RawSocket:
        """Connected as browsers connect by default: over long-polling first (Engine.IO's open,
        Socket.IO's connect), then upgraded to a websocket by Engine.IO's probe."""
        session = aiohttp.ClientSession()
        ws = await upgrade_websocket(
            session, server_url, await polling_sid(session, server_url, token)
        )
        raw = cls(session, ws)
        await ws.send_str("2probe")
        assert await raw.receive() == "3probe"
        await ws.send_str("5")
        return raw

    async def receive(self) -> str:
        message = await asyncio.wait_for(self.ws.receive(), 10)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return str(message.data)

    async def call(self, event: str, payload: Any) -> Any:
        """Emit with an ack id and return the ack, answering pings meanwhile."""
        self._ack_id += 1
        await self.ws.send_str(f"42{self._ack_id}" + json.dumps([event, payload]))
        prefix = f"43{self._ack_id}"
        frame = await self.receive_ack(prefix)
        return json.loads(frame[len(prefix) :])[0]

    async def receive_ack(self, prefix: str = "43") -> str:
        """The next frame starting with `prefix` (an ack), answering pings and passing over
        events (such as `last-comments`, which follows a join's ack) meanwhile."""
        while True:
            frame = await self.receive()
            if frame == "2":
                await self.ws.send_str("3")
            elif frame.startswith(prefix):
                return frame

    async def cut(self) -> None:
        """A network blip: the TCP connection drops, with no close frame and no leave."""
        connection = self.ws._conn  # noqa: SLF001 - aiohttp has no public way to drop it
        if connection is not None and connection.transport is not None:
            connection.transport.abort()
        await self._session.close()

    async def close(self) -> None:
        await self.ws.close()
        await self._session.close()
