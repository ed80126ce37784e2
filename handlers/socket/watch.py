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

import asyncio
import logging
import struct
import time
from typing import Any

from engineio import exceptions, packet
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
    connected: bool  # python-engineio's own
    upgraded: bool
    # The websocket a send may write to at once, from the sender's task, when nothing waits to
    # be sent before it (see `send`); None while the connection is not such a websocket.
    direct: Any
    writing: bool  # a frame is on its way out: what comes meanwhile waits its turn in the queue
    # Frames a sender holds back to write with the next ones in one go (see `hold`).
    held: list[str | bytes] | None

    async def _upgrade_websocket(self, environ: Any) -> Any:
        # A long-polling connection moving to a websocket: from now on that is its connection.
        request = environ.get("aiohttp.request") if isinstance(environ, dict) else None
        if request is not None:
            self.transport = request.transport
        return await super()._upgrade_websocket(environ)

    async def _websocket_handler(self, ws: Any) -> None:
        """Serve a websocket, opened as one or upgraded from long-polling: python-engineio's
        handler, but each frame is awaited under `asyncio.timeout` in this task, where
        python-engineio wraps every read in a task of its own with `asyncio.wait_for` around
        it, and sends may go straight out (`direct`, see `send`) while it runs."""
        if self.connected and not await self._upgraded_to(ws):
            return  # the long-polling connection goes on as it was
        self.connected = self.upgraded = True
        writer = asyncio.create_task(self._write_to(ws))
        self.direct = ws
        await self._read_from(ws)
        self.direct = None
        await self.queue.put(None)  # the writer sends what waits, then stops
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _upgraded_to(self, ws: Any) -> bool:
        """Engine.IO's upgrade of a long-polling connection to `ws`: the client's ping "probe",
        our pong "probe" and a noop that ends its pending poll, then its upgrade packet. Sends
        meanwhile wait in the queue (`upgrading`); the writer sends them once it is done. A
        client that does not finish within a ping interval + ping timeout stays on
        long-polling, as does one that sends anything else."""
        self.upgrading = True
        try:
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                probe = packet.Packet(encoded_packet=await ws.wait())
                if probe.packet_type != packet.PING or probe.data != "probe":
                    return False
                await ws.send(packet.Packet(packet.PONG, data="probe").encode())
                await self.queue.put(packet.Packet(packet.NOOP))
                upgrade = packet.Packet(encoded_packet=await ws.wait())
                return bool(upgrade.packet_type == packet.UPGRADE)
        except (Exception, asyncio.CancelledError):
            return False
        finally:
            self.upgrading = False

    async def _read_from(self, ws: Any) -> None:
        """Hand each frame to Engine.IO until the connection closes, stays silent past ping
        interval + ping timeout, sends a frame over the size bound or one that is not
        Engine.IO, or the server stops."""
        silent_s = self.server.ping_interval + self.server.ping_timeout
        biggest = self.server.max_http_buffer_size
        while True:
            try:
                async with asyncio.timeout(silent_s):
                    data = await ws.wait()
                pkt = packet.Packet(encoded_packet=data) if len(data) <= biggest else None
            except (Exception, asyncio.CancelledError):
                return
            if pkt is None:
                return
            try:
                await self.receive(pkt)
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                return
            except Exception:
                logger.exception("unexpected error handling a frame of socket %s", self.sid)
            # Frames already read return at once: let the event just started (and every other
            # connection) run before the next, as python-engineio's task per read did.
            await asyncio.sleep(0)

    async def _write_to(self, ws: Any) -> None:
        """Send what is queued, in order, until the closing mark or a failed send. It waits as
        long as it takes (the reader watches the client's silence): with sends going straight
        out, the queue may stay empty for longer than a ping interval."""
        while True:
            try:
                packets = self._taken(await self.queue.get())
                self.writing = True
                for pkt in packets:
                    await ws.send(pkt.encode())
            except (Exception, asyncio.CancelledError):
                break
            finally:
                self.writing = False
            if not packets:
                break
        await ws.close()

    async def receive(self, pkt: Any) -> None:
        self.last_heard = time.time()
        await super().receive(pkt)

    async def send(self, pkt: Any) -> None:
        """Send a packet: at once when the connection is an idle websocket (nothing queued, no
        frame on its way, nothing unsent in the kernel's buffer), else through the queue its
        writer works off. An ack or a room's broadcast then costs no wakeup of the writer."""
        if self.held is not None:
            self.held.append(pkt.encode())
            return
        if self._idle_websocket():
            if not await self.check_ping_timeout():
                return
            if self._idle_websocket():  # still: closing would have ended it
                self.writing = True
                try:
                    await self.direct.send(pkt.encode())
                except Exception:  # the connection is going; its reader ends the socket
                    logger.debug("a frame to closing socket %s was dropped", self.sid)
                finally:
                    self.writing = False
                return
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

    def hold(self) -> bool:
        """Hold back what is sent from now on, to be written with one system call (`release`):
        an ack and the events that follow it (a join's `last-comments`) then cost the server one
        write, and the loopback or network one segment, instead of one each. Only an idle,
        uncompressed websocket holds; the caller must `release` before it waits for anything
        but its own sends (what another task sends meanwhile is held with them, in order)."""
        if self.held is not None or not self._idle_websocket() or self.direct._sock.compress:
            return False
        self.held = []
        return True

    def release(self) -> None:
        """Write what was held, as websocket frames in one write, and send as before."""
        held, self.held = self.held, None
        transport = getattr(self, "transport", None)
        if not held or transport is None or transport.is_closing() or self.direct is None:
            return
        if self.direct._sock.closed:  # a close frame went out: nothing may follow it
            return
        transport.write(b"".join(map(_frame, held)))

    def _idle_websocket(self) -> bool:
        transport = getattr(self, "transport", None)
        return (
            self.direct is not None
            and not self.writing
            and self.queue.empty()
            and transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() == 0
        )

    def drop(self) -> None:
        """End the connection now: its TCP connection is cut, so nothing more is read from it
        or held for it, and the disconnect handler records its exit (in a task of its own: the
        sender, an emit to a whole room say, must not wait for that)."""
        transport = getattr(self, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.abort()
        if not self.closing and not self.closed:
            self.server.start_background_task(self.close, wait=False, abort=True)

    async def poll(self) -> list[Any]:
        """What waits to be sent, once something does, for a long-polling GET (python-engineio's
        own poll, but waiting under `asyncio.timeout`: on Python 3.11 its `asyncio.wait_for`
        wraps the queue's get in a task of its own, every time)."""
        try:
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                first = await self.queue.get()
        except (TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty from None  # the writer stops, as with Engine.IO's poll
        return self._taken(first)

    def _taken(self, first: Any) -> list[Any]:
        """`first`, taken off the queue, and what waits behind it."""
        self.queue.task_done()
        if first is None:  # the connection is closing
            return []
        packets = [first]
        while not self.queue.empty():
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:  # leave the closing mark for the next poll
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        # Engine.IO queues some packets itself (its pings), which were never counted in.
        self.queued_bytes = max(0, self.queued_bytes - sum(_size(pkt) for pkt in packets))
        return packets


def _frame(data: str | bytes) -> bytes:
    """`data` as one final, unmasked, uncompressed RFC 6455 frame (a server's): text for a
    string, binary for bytes."""
    payload, opcode = (data.encode(), 0x81) if isinstance(data, str) else (data, 0x82)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", opcode, 126, size)
    else:
        header = struct.pack("!BBQ", opcode, 127, size)
    return header + payload


def watch(engine_socket: Any, environ: Any, max_queued_bytes: int) -> None:
    """Watch a new Engine.IO socket (python-engineio builds its sockets itself, so the instance
    takes our class: a few attributes and methods)."""
    if isinstance(engine_socket, AsyncSocket):
        engine_socket.__class__ = WatchedSocket
        request = environ.get("aiohttp.request") if isinstance(environ, dict) else None
        if request is not None and environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            engine_socket.transport = request.transport  # the websocket's own connection
        engine_socket.last_heard = time.time()
        engine_socket.queued_bytes = 0
        engine_socket.max_queued_bytes = max_queued_bytes
        engine_socket.direct = None
        engine_socket.writing = False
        engine_socket.held = None


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
