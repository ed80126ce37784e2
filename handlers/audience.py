"""The audience namespace "/": viewers connect with a token, join and leave breakout rooms."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web

from handlers.clients import describe_request
from handlers.context import ATTENDANCE, ENRICHER, SETTINGS, TOKENS
from handlers.payloads import join_request, leave_request
from handlers.wire import Json, acked, iso_ms, room_name
from models.attendance import ExitOutcome
from models.errors import NotJoined, Unauthorized
from models.records import ExitReason, now_ms

logger = logging.getLogger(__name__)


class AudienceNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Thin edge over the attendance desk: validate, call the domain, move rooms, emit, ack."""

    def __init__(self, app: web.Application, namespace: str = "/") -> None:
        super().__init__(namespace)
        self._app = app

    async def trigger_event(self, event: str, *args: Any) -> Any:
        # Wire events are kebab-case (join-chat-room); handlers are on_join_chat_room.
        return await super().trigger_event(event.replace("-", "_"), *args)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            identity = self._app[TOKENS].verify(token)
        except Unauthorized as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                "unauthorized", {"code": exc.code, "message": exc.message}
            ) from None
        settings = self._app[SETTINGS]
        client = describe_request(
            environ["aiohttp.request"], self._app[ENRICHER], settings.ip_storage
        )
        self._app[ATTENDANCE].connect(sid, identity, client)

    @acked
    async def on_join_chat_room(self, sid: str, payload: object = None) -> Json:
        request = join_request(payload)
        async with self._app[ATTENDANCE].seat(sid) as seat:
            outcome = await seat.join(request.breakout_id, request.session_type)
            if outcome.switched_from is not None:
                await self._left_room(sid, outcome.switched_from)
            await self.enter_room(sid, room_name(request.breakout_id))
        await self._emit_count(request.breakout_id, outcome.count)
        session = outcome.session
        return {
            "ok": True,
            "sessionId": session.session_id,
            "breakoutId": session.breakout_id,
            "entryTimestamp": iso_ms(session.entry_ts),
        }

    @acked
    async def on_leave_chat_room(self, sid: str, payload: object = None) -> Json:
        breakout_id = leave_request(payload)
        async with self._app[ATTENDANCE].seat(sid) as seat:
            outcome = await seat.leave(breakout_id)
            await self._left_room(sid, outcome)
        return {
            "ok": True,
            "sessionId": outcome.session.session_id,
            "exitTimestamp": iso_ms(outcome.session.exit_ts),
        }

    async def on_disconnect(self, sid: str, reason: str | None = None) -> None:
        attendance = self._app[ATTENDANCE]
        left_at = self._last_heard(sid, reason)
        try:
            async with attendance.seat(sid) as seat:
                outcome = await seat.disconnect(left_at, ExitReason.DISCONNECT)
        except NotJoined:
            return  # already gone: closed by a shutdown that came first
        if outcome is not None:
            await self._emit_count(outcome.session.breakout_id, outcome.count)

    async def _left_room(self, sid: str, outcome: ExitOutcome) -> None:
        await self.leave_room(sid, room_name(outcome.session.breakout_id))
        await self._emit_count(outcome.session.breakout_id, outcome.count)

    async def _emit_count(self, breakout_id: str, count: int) -> None:
        await self.emit(
            "viewer-count", {"breakoutId": breakout_id, "count": count}, room=room_name(breakout_id)
        )

    def _last_heard(self, sid: str, reason: str | None) -> datetime:
        """When the client was last heard from: now, unless it went silent (ping timeout).

        Engine.IO sends a ping `ping_interval` after each pong and gives up `ping_timeout` after an
        unanswered ping; the last pong came one interval before that unanswered ping.
        """
        if reason != self.server.reason.PING_TIMEOUT:
            return now_ms()
        engine = self.server.eio
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        socket = engine.sockets.get(eio_sid) if eio_sid else None
        unanswered_ping = getattr(socket, "last_ping", None) or (time.time() - engine.ping_timeout)
        heard = datetime.fromtimestamp(unanswered_ping - engine.ping_interval, UTC)
        return heard.replace(microsecond=heard.microsecond - heard.microsecond % 1000)
