"""Emits to a room without a task per recipient.

python-socketio's manager encodes an event once and then starts one asyncio task per recipient
to hand it to Engine.IO. A breakout's chat sends every comment to every viewer: 1,000 viewers on
a node and 10 comments a second are 10,000 tasks a second before a byte is written. Handing a
packet to an Engine.IO socket only puts it on that socket's queue (its writer task sends it), so
here the recipients are served one after another in the emitting task instead. Emits that wait
for callbacks keep python-socketio's own path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet


class FanOut(socketio.AsyncManager):  # type: ignore[misc]
    """Put first among a manager's bases after its own class: a pub/sub manager's local
    delivery (`super().emit` in AsyncPubSubManager) then comes here too.

    Every node delivers every emit to its own sockets here (with Redis, each node gets each
    emit from the channel, in order), so this is also where a node learns of them: `watch`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchers: dict[str, Callable[[str], None]] = {}

    def watch(self, event: str, seen: Callable[[str], None]) -> None:
        """Call `seen(room)` for each room an emit of `event` goes to, on this node, before it
        reaches any socket here."""
        self._watchers[event] = seen

    async def emit(  # noqa: PLR0913 - python-socketio's signature
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await super().emit(
                event,
                data,
                namespace,
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                to=to,
                **kwargs,
            )
            return
        room = to or room
        seen = self._watchers.get(event)
        if seen is not None:
            for one in room if isinstance(room, list) else [room]:
                if isinstance(one, str):
                    seen(one)
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            data = list(data)
        elif data is not None:
            data = [data]
        else:
            data = []
        skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *data]
        ).encode()
        packets = [
            eio_packet.Packet(eio_packet.MESSAGE, part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid in skipped:
                continue
            for one in packets:
                await self.server._send_eio_packet(eio_sid, one)  # noqa: SLF001


class LocalFanOut(FanOut):
    """One process: rooms in memory."""


class RedisFanOut(socketio.AsyncRedisManager, FanOut):  # type: ignore[misc]
    """Several processes: emits go through Redis, and each node serves its own recipients
    without a task each."""
