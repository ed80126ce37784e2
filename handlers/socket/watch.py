"""What we watch of each Engine.IO connection: when its client was last heard from, and how much
waits to be sent to it.

A client that vanishes without closing (a frozen tab, a lost network) is noticed only when
Engine.IO gives up on it: after ping interval + ping timeout, through a ping timeout or a read
timeout ("transport close"), whichever fires first. Its session ended when it went silent, not
then, so every way the socket closes is stamped by `left_at`.

A client that stops reading (or reads too slowly) while it is sent acks and broadcasts would
make the server hold everything for it: past `max_queued_bytes` waiting, it is disconnected.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from engineio.async_socket import AsyncSocket

logger = logging.getLogger(__name__)


def _size(pkt: Any) -> int:
    data = getattr(pkt, "data", None)
    return len(data) if isinstance(data, str | bytes) else 64


class WatchedSocket(AsyncSocket):  # type: ignore[misc]
    """python-engineio's socket, noting when it hears its client and bounding what it holds."""

    last_heard: float
    queued_bytes: int
    max_queued_bytes: int

    async def _upgrade_websocket(self, environ: Any) -> Any:
        # A long-polling connection moving to a websocket: from now on that is its connection.
        request = environ.get("aiohttp.request") if isinstance(environ, dict) else None
        if request is not None:
            self.transport = request.transport
        return await super()._upgrade_websocket(environ)

    async def receive(self, pkt: Any) -> None:
        self.last_heard = time.time()
        await super().receive(pkt)

    async def send(self, pkt: Any) -> None:
        size = _size(pkt)
        # One answer bigger than the bound (a host's snapshot of a breakout of thousands) goes
        # out when nothing waits before it; what piles up behind it counts.
        if self.queued_bytes > 0 and self.queued_bytes + size > self.max_queued_bytes:
            if not self.closing and not self.closed:
                logger.warning(
                    "disconnecting a socket that does not read what it is sent (%d bytes wait)",
                    self.queued_bytes,
                )
                self.drop()
            return
        self.queued_bytes += size
        await super().send(pkt)

    def drop(self) -> None:
        """End the connection now: its TCP connection is cut, so nothing more is read from it
        or held for it, and the disconnect handler records its exit (in a task of its own: the
        sender, an emit to a whole room say, must not wait for that)."""
        transport = getattr(self, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.abort()
        if not self.closing and not self.closed:
            self.server.start_background_task(self.close, wait=False, abort=True)

    async def poll(self) -> Any:
        packets = await super().poll()
        # Engine.IO queues some packets itself (its pings), which were never counted in.
        self.queued_bytes = max(0, self.queued_bytes - sum(_size(pkt) for pkt in packets))
        return packets


def watch(engine_socket: Any, environ: Any, max_queued_bytes: int) -> None:
    """Watch a new Engine.IO socket (python-engineio builds its sockets itself, so the instance
    takes our class: a few attributes and three methods, each calling the original)."""
    if isinstance(engine_socket, AsyncSocket):
        engine_socket.__class__ = WatchedSocket
        request = environ.get("aiohttp.request") if isinstance(environ, dict) else None
        if request is not None and environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            engine_socket.transport = request.transport  # the websocket's own connection
        engine_socket.last_heard = time.time()
        engine_socket.queued_bytes = 0
        engine_socket.max_queued_bytes = max_queued_bytes


def left_at(engine_socket: Any, ping_interval_s: float, now: float, *, gone: bool = False) -> float:
    """When the client behind a closing socket left, as epoch seconds.

    A client that is alive is heard at least once a ping interval (its pongs). One silent for
    longer went away at its last packet; otherwise the closing itself was heard (a close frame,
    a dropped connection, a server-side disconnect), now. A client known to be `gone` (it came
    back on another connection) left at its last packet, however recent.
    """
    heard = getattr(engine_socket, "last_heard", None)
    if heard is None or (now - heard <= ping_interval_s and not gone):
        return now
    return float(heard)
