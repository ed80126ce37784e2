"""Socket.IO protocol hygiene: what a client's EVENT packet may name, and when it was heard."""

from __future__ import annotations

from typing import Any

import socketio
from socketio import packet

from handlers.socket.acks import error_ack
from handlers.socket.liveness import hear, left_at

MAX_EVENT_NAME_CHARS = 64


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    """An AsyncServer that refuses client events named like its own lifecycle events.

    python-socketio dispatches a client's `["disconnect"]` or `["connect", ...]` EVENT packet to
    the same handlers the server calls when a socket really connects or goes away; a client could
    then close its own session while staying connected, or feed a forged environ to the connect
    handler. Such packets, and events that are not short strings, get an `invalid_payload` ack.

    Every connection notes when its client was last heard (`handlers.socket.liveness`).
    """

    async def _handle_eio_connect(self, eio_sid: str, environ: Any) -> None:
        hear(self.eio.sockets.get(eio_sid))
        await super()._handle_eio_connect(eio_sid, environ)

    def left_at(self, sid: str, namespace: str, now: float) -> float:
        """When the client of Socket.IO connection `sid` left (see `liveness.left_at`)."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        engine_socket = self.eio.sockets.get(eio_sid) if eio_sid else None
        return left_at(engine_socket, self.eio.ping_interval, now)

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
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
