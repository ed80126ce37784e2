"""When each connection was last heard from: any packet its client sends (events, pongs, close).

A client that vanishes without closing (a frozen tab, a lost network) is noticed only when
Engine.IO gives up on it: after ping interval + ping timeout, through a ping timeout or a read
timeout ("transport close"), whichever fires first. Its session ended when it went silent, not
then, so every way the socket closes is stamped by `left_at`.
"""

from __future__ import annotations

import time
from typing import Any

from engineio.async_socket import AsyncSocket


class HeardSocket(AsyncSocket):  # type: ignore[misc]
    """python-engineio's socket, noting the time of every packet it receives."""

    last_heard: float

    async def receive(self, pkt: Any) -> None:
        self.last_heard = time.time()
        await super().receive(pkt)


def hear(engine_socket: Any) -> None:
    """Make a new Engine.IO socket note what it hears (python-engineio builds its sockets
    itself, so the instance takes our class: it adds one attribute and one method)."""
    if isinstance(engine_socket, AsyncSocket):
        engine_socket.__class__ = HeardSocket
        engine_socket.last_heard = time.time()


def left_at(engine_socket: Any, ping_interval_s: float, now: float) -> float:
    """When the client behind a closing socket left, as epoch seconds.

    A client that is alive is heard at least once a ping interval (its pongs). One silent for
    longer went away at its last packet; otherwise the closing itself was heard (a close frame,
    a dropped connection, a server-side disconnect), now.
    """
    heard = getattr(engine_socket, "last_heard", None)
    if heard is None or now - heard <= ping_interval_s:
        return now
    return float(heard)
