"""Commands one node sends all nodes: today, expelling a session over its user's device limit."""

from __future__ import annotations

import logging

import socketio

from handlers.broadcast import PresenceBroadcaster
from handlers.wire import room_name
from models.attendance import Attendance, JoinOutcome
from models.bus import Bus, Message

logger = logging.getLogger(__name__)

EXPEL = "expel"
PLAYBACK_EVENT = "playback"
DEVICE_LIMIT_EXCEEDED = "device-limit-exceeded"


class ClusterCommands:
    """Publishes commands on the bus and carries out, on this node, those meant for it."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        attendance: Attendance,
        broadcaster: PresenceBroadcaster,
        bus: Bus,
    ) -> None:
        self._sio = sio
        self._attendance = attendance
        self._broadcaster = broadcaster
        self._bus = bus
        bus.subscribe(self.handle)

    async def after_join(self, outcome: JoinOutcome) -> None:
        """Have the user's sessions over the device limit expelled, on whichever node."""
        for session_id in outcome.over_device_limit:
            await self._bus.publish({"kind": EXPEL, "sessionId": session_id})

    async def handle(self, message: Message) -> None:
        if message.get("kind") == EXPEL and isinstance(message.get("sessionId"), str):
            await self._expel(message["sessionId"])

    async def _expel(self, session_id: str) -> None:
        found = await self._attendance.expel(session_id)
        if found is None:
            return  # held by another node, or already gone
        connection_id, outcome = found
        await self._sio.emit(PLAYBACK_EVENT, DEVICE_LIMIT_EXCEEDED, to=connection_id)
        await self._sio.leave_room(connection_id, room_name(outcome.session.breakout_id))
        self._broadcaster.left(outcome)
        logger.info("expelled session %s over its device limit", session_id)
