"""Socket.IO protocol hygiene: what a client may send, how often, and what it is sent."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web
from engineio.async_drivers import aiohttp as engineio_aiohttp
from socketio import packet

from handlers.socket.acks import error_ack
from handlers.socket.watch import WatchedSocket, left_at, watch
from models.domain.rates import EventLimiter, Verdict

MAX_EVENT_NAME_CHARS = 64


logger = logging.getLogger(__name__)
# Socket.IO packet types carrying binary attachments: none in our contract.
_BINARY_PACKETS = (str(packet.BINARY_EVENT), str(packet.BINARY_ACK))
# What the event being handled sends right after its ack (`GuardedServer.after_ack`).
_AFTER_ACK: ContextVar[list[Callable[[], Awaitable[None]]] | None] = ContextVar(
    "after_ack", default=None
)


def _ack_arguments(result: Any) -> list[Any]:
    """A handler's answer as its ack's arguments: python-socketio's rule, a tuple is several."""
    if result is None:
        return []
    return list(result) if isinstance(result, tuple) else [result]


class _UncompressedWebSocket(engineio_aiohttp.WebSocket):  # type: ignore[misc]
    """python-engineio's aiohttp websocket, declining per-message deflate.

    Browsers offer deflate on every websocket, and aiohttp accepts by default: each frame sent
    is then compressed for each recipient (a chat comment to 1,000 viewers is 1,000
    compressions), and each connection holds a compressor of its own (~160 KB more RSS a
    socket, measured with `python -m bench.chat --deflate`).
    Node's Socket.IO server declines it by default for the same reasons.
    """

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(environ["aiohttp.request"])
        self.environ = environ
        await self.handler(self)
        return self._sock


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    """An AsyncServer that bounds what each connection may send and be sent.

    - Client events named like the server's own lifecycle events are refused: python-socketio
      dispatches a client's `["disconnect"]` or `["connect", ...]` EVENT packet to the same
      handlers the server calls when a socket really connects or goes away; a client could then
      close its own session while staying connected, or feed a forged environ to the connect
      handler. Such packets, and events that are not short strings, get an `invalid_payload` ack.
    - Binary packets close the connection: python-socketio buffers every binary frame a packet
      announces (up to 9,999,999,999 of them), and the contract has no binary events.
    - Every frame counts against a per-connection budget (`frame_rate_per_s`, `frame_burst`),
      not only events: past `flood_disconnect_after` frames over it in a row, the connection
      is cut (acks of nothing, connects to other namespaces, ... cost no event budget).
    - Each connection notes when its client was last heard, and one that holds more than
      `max_queued_bytes` unsent is disconnected (`handlers.socket.watch`).
    - Websockets decline per-message deflate unless `websocket_compression` is on.
    """

    def __init__(
        self,
        *,
        frame_rate_per_s: float,
        frame_burst: int,
        flood_disconnect_after: int,
        max_queued_bytes: int,
        websocket_compression: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not websocket_compression:
            self.eio._async = {**self.eio._async, "websocket": _UncompressedWebSocket}  # noqa: SLF001
        self._frame_budget = (frame_rate_per_s, frame_burst, flood_disconnect_after)
        self._max_queued_bytes = max_queued_bytes
        self._frames: dict[str, EventLimiter] = {}

    async def _handle_eio_connect(self, eio_sid: str, environ: Any) -> None:
        watch(self.eio.sockets.get(eio_sid), environ, self._max_queued_bytes)
        rate, burst, disconnect_after = self._frame_budget
        self._frames[eio_sid] = EventLimiter(rate, burst, disconnect_after, time.monotonic())
        await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any = None) -> None:
        self._frames.pop(eio_sid, None)
        self._binary_packet.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        limiter = self._frames.get(eio_sid)
        verdict = limiter.check(time.monotonic()) if limiter else Verdict.ALLOW
        if verdict is Verdict.DISCONNECT:
            await self._drop(eio_sid, "kept sending past its frame budget")
            return
        # A frame past the budget is still handled (an event then gets its rate_limited ack
        # from the namespace): only a flood that goes on is cut off.
        if not isinstance(data, str) or data[:1] in _BINARY_PACKETS:
            await self._drop(eio_sid, "sent a binary packet")
            return
        await super()._handle_eio_message(eio_sid, data)

    def after_ack(self, send: Callable[[], Awaitable[None]]) -> None:
        """Run `send` right after the ack of the event being handled, in its task, with the ack
        and what it sends written out in one go (`WatchedSocket.hold`); outside an event, in a
        task of its own. `send` must only send: the ack waits for it."""
        follow_ups = _AFTER_ACK.get()
        if follow_ups is None:
            self.start_background_task(send)
        else:
            follow_ups.append(send)

    async def _drop(self, eio_sid: str, why: str) -> None:
        engine_socket = self.eio.sockets.get(eio_sid)
        if isinstance(engine_socket, WatchedSocket) and not engine_socket.closing:
            logger.warning("disconnecting a socket that %s", why)
            engine_socket.drop()

    def left_at(self, sid: str, namespace: str = "/", *, gone: bool = False) -> datetime:
        """When the client of Socket.IO connection `sid` left (see `watch.left_at`), to the
        millisecond: its silence, not Engine.IO's timeout, ended it."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        engine_socket = self.eio.sockets.get(eio_sid) if eio_sid else None
        heard = left_at(engine_socket, self.eio.ping_interval, time.time(), gone=gone)
        return datetime.fromtimestamp(int(heard * 1000) / 1000, UTC)

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: Any
    ) -> None:
        event = data[0] if isinstance(data, list) and data else None
        if (
            not isinstance(event, str)
            or len(event) > MAX_EVENT_NAME_CHARS
            or event in self.reserved_events
        ):
            if id is not None:
                refusal = error_ack("invalid_payload", "not an event clients may send")
                await server._send_packet(
                    eio_sid,
                    self.packet_class(packet.ACK, namespace=namespace, id=id, data=[refusal]),
                )
            return
        follow_ups: list[Callable[[], Awaitable[None]]] = []
        _AFTER_ACK.set(follow_ups)  # this event's own task: its handler sees this list
        result = await server._trigger_event(event, namespace, sid, *data[1:])
        _AFTER_ACK.set(None)
        if result == self.not_handled:
            return
        # The ack, as python-socketio sends it, then what follows it.
        engine_socket = self.eio.sockets.get(eio_sid)
        held = isinstance(engine_socket, WatchedSocket) and engine_socket.hold()
        try:
            if id is not None:
                ack = self.packet_class(
                    packet.ACK, namespace=namespace, id=id, data=_ack_arguments(result)
                )
                await server._send_packet(eio_sid, ack)
            for send in follow_ups:
                try:
                    await send()
                except Exception:  # what follows an ack never takes the event down with it
                    logger.exception("sending what follows an ack of %s failed", event)
        finally:
            if held:
                engine_socket.release()
