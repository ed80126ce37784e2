"""Messages one node sends all nodes: expel a session over its device limit, end a breakout,
forget a changed breakout or a user's mute, and the presence updates of an interval."""

from __future__ import annotations

import logging
from datetime import datetime

import socketio

from handlers.socket.broadcast import PresenceBroadcaster
from handlers.wire.names import BREAKOUT_ENDED, DEVICE_LIMIT_EXCEEDED, PLAYBACK, chat_room
from models.cluster.bus import Bus, Kind, Message
from models.cluster.nodes import NodeRegistry
from models.domain.fields import iso_ms
from models.domain.records import Breakout, ids_of_place, now_ms
from models.live.chat import Chat
from models.live.desk import Attendance, ExitOutcome, JoinOutcome

logger = logging.getLogger(__name__)


class ClusterCommands:
    """Publishes commands on the bus and carries out, on this node, those meant for it."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        attendance: Attendance,
        broadcaster: PresenceBroadcaster,
        bus: Bus,
        *,
        chat: Chat | None = None,
        registry: NodeRegistry | None = None,
        silent_after_s: float = 3.0,
    ) -> None:
        self._sio = sio
        self._attendance = attendance
        self._broadcaster = broadcaster
        self._bus = bus
        self._chat = chat
        self._registry = registry
        self._silent_after_s = silent_after_s
        # Ends and changes the bus could not carry (Redis away), sent again by `resend`.
        self._unsent: list[Message] = []
        bus.subscribe(self.handle)

    async def silent_since(self, node_id: str) -> datetime | None:
        """When a node that has missed its last beats (several heartbeat intervals) last beat
        (Holders.silent_since). Without Redis there is no other node; when Redis does not
        answer, no node is taken for silent."""
        if self._registry is None:
            return None
        try:
            return await self._registry.silent_since(node_id, now_ms(), self._silent_after_s)
        except Exception as exc:
            logger.warning("cannot tell whether node %s is alive: %s", node_id, exc)
            return None

    async def close_released(self, connection_id: str, outcome: ExitOutcome) -> None:
        """Close a connection of this node whose session its client resumed on another."""
        await self._sio.leave_room(connection_id, chat_room(outcome.session.place))
        self._broadcaster.left(outcome)
        await self._sio.disconnect(connection_id)

    async def release(self, place: str, session_id: str) -> None:
        """Have the node that holds the session let it go (Holders.release)."""
        await self._publish({"kind": Kind.RELEASE, "place": place, "sessionId": session_id})

    async def after_join(self, outcome: JoinOutcome) -> None:
        """Have the user's sessions over the device limit expelled, on whichever node."""
        for session_id in outcome.over_device_limit:
            expel = {"kind": Kind.EXPEL, "sessionId": session_id}
            if not await self._publish(expel):
                await self._expel(session_id)  # at least where this node can
                self._unsent.append(expel)  # and on the others once the bus carries it

    async def breakout_ended(self, breakout: Breakout) -> None:
        """Have every node close its sessions in the breakout and tell their sockets."""
        end = {"kind": Kind.END, "place": breakout.place, "endedAt": iso_ms(breakout.ended_at)}
        if not await self._publish(end):
            await self.handle(end)  # here at once; the other nodes once the bus carries it
            self._unsent.append(end)

    async def breakout_changed(self, breakout: Breakout) -> None:
        """Have every node drop its cached copy, so the change applies at once everywhere."""
        changed = {"kind": Kind.BREAKOUT_CHANGED, "place": breakout.place}
        if not await self._publish(changed):
            await self.handle(changed)
            self._unsent.append(changed)

    async def user_muted(self, org_id: str, breakout_id: str, user_id: str) -> None:
        """Have every node read the user's mute afresh, so it applies at once everywhere (a node
        that misses this reads it within MUTE_FRESH_S anyway)."""
        await self._publish(
            {"kind": Kind.MUTED, "orgId": org_id, "breakoutId": breakout_id, "userId": user_id}
        )

    async def resend(self) -> None:
        """Send again what the bus could not carry (a loop round; in order, until one fails)."""
        while self._unsent and await self._publish(self._unsent[0], quiet=True):
            self._unsent.pop(0)

    async def _publish(self, message: Message, *, quiet: bool = False) -> bool:
        """Publish; False when the bus is away (Redis down): the caller's own work is done
        and recorded already, so it goes on without the other nodes for now."""
        try:
            await self._bus.publish(message)
        except Exception as exc:
            if not quiet:
                logger.warning("cluster message %s not sent (%s)", message.get("kind"), exc)
            return False
        return True

    async def handle(self, message: Message) -> None:
        kind = message.get("kind")
        if kind == Kind.PRESENCE_UPDATES and isinstance(message.get("updates"), list):
            await self._broadcaster.deliver(message["updates"])
        elif kind == Kind.BREAKOUT_CHANGED and isinstance(message.get("place"), str):
            self._attendance.forget_breakout(message["place"])
        elif kind == Kind.EXPEL and isinstance(message.get("sessionId"), str):
            await self._expel(message["sessionId"])
        elif kind == Kind.RELEASE and isinstance(message.get("sessionId"), str):
            released = await self._attendance.release(message["sessionId"], self._gone_at)
            if released is not None:
                await self.close_released(*released)
        elif kind == Kind.MUTED and self._chat is not None:
            who = (message.get("orgId"), message.get("breakoutId"), message.get("userId"))
            if all(isinstance(part, str) for part in who):
                self._chat.forget_mute(*who)  # type: ignore[arg-type]
        elif kind == Kind.END and isinstance(message.get("place"), str):
            await self._end(message["place"], datetime.fromisoformat(message["endedAt"]))

    def _gone_at(self, connection_id: str) -> datetime:
        gone_at: datetime = self._sio.left_at(connection_id, gone=True)
        return gone_at

    async def _end(self, place: str, ended_at: datetime) -> None:
        notice = {"breakoutId": ids_of_place(place)[1], "endedAt": iso_ms(ended_at)}
        for connection_id, outcome in await self._attendance.close_breakout(place, ended_at):
            # The socket is on this node: sent straight to it, not around through Redis.
            await self._sio.emit(BREAKOUT_ENDED, notice, to=connection_id, ignore_queue=True)
            await self._sio.leave_room(connection_id, chat_room(place))
            self._broadcaster.left(outcome)

    async def _expel(self, session_id: str) -> None:
        found = await self._attendance.expel(session_id)
        if found is None:
            return  # held by another node, or already gone
        connection_id, outcome = found
        await self._sio.emit(PLAYBACK, DEVICE_LIMIT_EXCEEDED, to=connection_id, ignore_queue=True)
        await self._sio.leave_room(connection_id, chat_room(outcome.session.place))
        self._broadcaster.left(outcome)
        logger.info("expelled session %s over its device limit", session_id)
