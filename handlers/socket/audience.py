"""The audience namespace "/": viewers connect with a token, join and leave breakout rooms, and
talk in them (a breakout's room is its chat)."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import partial
from typing import Any

import socketio
from aiohttp import web

from handlers.keys import (
    ATTENDANCE,
    BROADCASTER,
    CHAT,
    COMMANDS,
    ENGAGEMENT,
    ENRICHER,
    SETTINGS,
    TOKENS,
)
from handlers.socket.acks import acked, error_ack
from handlers.socket.clients import client_info, request_profile
from handlers.socket.payloads import (
    activity_request,
    breakout_request,
    comment_id_request,
    comment_request,
    comments_before_request,
    join_request,
    mute_request,
)
from handlers.wire.names import (
    CLIENT_EVENTS,
    COMMENT_DELETED,
    LAST_COMMENTS,
    LIFECYCLE_EVENTS,
    NEW_COMMENT,
    chat_room,
    handler_name,
    staff_room,
    watchers_room,
)
from handlers.wire.records import Json, comment_json, viewer_json
from models.domain.access import HOSTS
from models.domain.errors import DomainError, InvalidPayload, NotJoined, RateLimited, Unauthorized
from models.domain.fields import iso_ms
from models.domain.rates import AddressLimiter, EventLimiter, Verdict
from models.domain.records import AttendanceSession, ExitReason, org_place
from models.store.comments import Comment

logger = logging.getLogger(__name__)
# What a client may send, as handler names (join_chat_room for join-chat-room).
HANDLED_EVENTS = frozenset(handler_name(event) for event in CLIENT_EVENTS)


def _refused(error: DomainError) -> socketio.exceptions.ConnectionRefusedError:
    # The second argument reaches the JS client as err.data; err.message is the code.
    return socketio.exceptions.ConnectionRefusedError(
        error.code, {"code": error.code, "message": error.message}
    )


class AudienceNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Thin edge over the attendance desk: validate, call the domain, move rooms, emit, ack."""

    def __init__(self, app: web.Application, namespace: str = "/") -> None:
        super().__init__(namespace)
        self._app = app
        settings = app[SETTINGS]
        self._settings = settings
        self._connects = AddressLimiter(
            settings.connect_rate_per_min / 60,
            settings.connect_burst,
            exempt=(*settings.connect_limit_exempt, *settings.trusted_proxies),
        )
        self._event_limits: dict[str, EventLimiter] = {}

    async def trigger_event(self, event: str, *args: Any) -> Any:
        # Wire events are kebab-case (join-chat-room); handlers are on_join_chat_room.
        handler_event = handler_name(event)
        if event not in LIFECYCLE_EVENTS:
            refusal = await self._refusal(args[0], handler_event)
            if refusal is not None:
                return refusal
        return await super().trigger_event(handler_event, *args)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        profile = request_profile(environ["aiohttp.request"], self._app[ENRICHER])
        # Before the token is checked: a flood of connects must not cost a verification each.
        if not self._connects.allow(profile.ip, time.monotonic()):
            raise _refused(RateLimited("too many connections from this address; slow down"))
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            identity = self._app[TOKENS].verify(token)
        except Unauthorized as exc:
            raise _refused(exc) from None
        settings = self._settings
        self._event_limits[sid] = EventLimiter(
            settings.event_rate_per_s,
            settings.event_burst,
            settings.flood_disconnect_after,
            time.monotonic(),
        )
        self._app[ATTENDANCE].connect(sid, identity, client_info(profile, settings.ip_storage))
        if identity.role in HOSTS:
            await self.enter_room(sid, staff_room(identity.org_id))

    @acked
    async def on_join_chat_room(self, sid: str, payload: object = None, *_extra: object) -> Json:
        request = join_request(payload)
        async with self._app[ATTENDANCE].seat(sid) as seat:
            before = seat.current
            try:
                outcome = await seat.join(
                    request.breakout_id,
                    request.session_type,
                    resume_id=request.resume_session_id,
                    last_heard=self._gone_at,
                )
            finally:  # a switch whose new open failed has still left the old breakout
                await self._follow(sid, before, seat.current)
        if outcome.released is not None:
            await self._app[COMMANDS].close_released(*outcome.released)
        self._app[BROADCASTER].joined(outcome)
        await self._app[COMMANDS].after_join(outcome)
        session = outcome.session
        if self._settings.comments_on_join:
            self._last_comments_after_ack(sid, session)
        return {
            "ok": True,
            "sessionId": session.session_id,
            "breakoutId": session.breakout_id,
            "entryTimestamp": iso_ms(session.entry_ts),
            "resumed": outcome.resumed,
        }

    @acked
    async def on_leave_chat_room(self, sid: str, payload: object = None, *_extra: object) -> Json:
        breakout_id = breakout_request(payload)
        async with self._app[ATTENDANCE].seat(sid) as seat:
            before = seat.current
            outcome = await seat.leave(breakout_id)
            await self._follow(sid, before, seat.current)
        self._app[BROADCASTER].left(outcome)
        return {
            "ok": True,
            "sessionId": outcome.session.session_id,
            "exitTimestamp": iso_ms(outcome.session.exit_ts),
        }

    @acked
    async def on_watch_breakout(self, sid: str, payload: object = None, *_extra: object) -> Json:
        breakout_id = breakout_request(payload)
        attendance = self._app[ATTENDANCE]
        identity = attendance.identity(sid)
        viewers = await attendance.presence(identity, breakout_id, create=True)
        await self.enter_room(sid, watchers_room(org_place(identity.org_id, breakout_id)))
        return {"ok": True, "count": len(viewers), "viewers": [viewer_json(v) for v in viewers]}

    @acked
    async def on_unwatch_breakout(self, sid: str, payload: object = None, *_extra: object) -> Json:
        breakout_id = breakout_request(payload)
        org_id = self._app[ATTENDANCE].identity(sid).org_id
        await self.leave_room(sid, watchers_room(org_place(org_id, breakout_id)))
        return {"ok": True}

    @acked
    async def on_send_comment(self, sid: str, payload: object = None, *_extra: object) -> Json:
        request = comment_request(payload)
        comment = await self._app[CHAT].post(
            sid, request.breakout_id, request.text, request.reply_to
        )
        shown = comment_json(comment)
        place = org_place(comment.org_id, comment.breakout_id)
        await self.emit(NEW_COMMENT, shown, room=[chat_room(place), watchers_room(place)])
        return {"ok": True, "comment": shown}

    @acked
    async def on_comments_before(self, sid: str, payload: object = None, *_extra: object) -> Json:
        breakout_id, before, limit = comments_before_request(payload)
        older = await self._app[CHAT].before(sid, breakout_id, before, limit)
        return {"ok": True, "breakoutId": breakout_id, "comments": [comment_json(c) for c in older]}

    @acked
    async def on_delete_comment(self, sid: str, payload: object = None, *_extra: object) -> Json:
        breakout_id, comment_id = comment_id_request(payload)
        identity = self._app[ATTENDANCE].identity(sid)
        await self._app[CHAT].delete(identity, breakout_id, comment_id)
        deleted = {"breakoutId": breakout_id, "commentId": comment_id}
        place = org_place(identity.org_id, breakout_id)
        await self.emit(COMMENT_DELETED, deleted, room=[chat_room(place), watchers_room(place)])
        return {"ok": True, **deleted}

    @acked
    async def on_mute_user(self, sid: str, payload: object = None, *_extra: object) -> Json:
        breakout_id, user_id, minutes = mute_request(payload)
        identity = self._app[ATTENDANCE].identity(sid)
        until = await self._app[CHAT].mute(identity, breakout_id, user_id, minutes)
        await self._app[COMMANDS].user_muted(identity.org_id, breakout_id, user_id)
        return {"ok": True, "breakoutId": breakout_id, "userId": user_id, "until": iso_ms(until)}

    @acked
    async def on_activity(self, sid: str, payload: object = None, *_extra: object) -> Json:
        """What the viewer is doing now; clients need not ask for the ack."""
        breakout_id, state = activity_request(payload)
        activity = await self._app[ENGAGEMENT].report(sid, breakout_id, state)
        if activity is not None:
            self._app[BROADCASTER].activity(activity)
        return {"ok": True, "breakoutId": breakout_id, "state": state.value}

    def _last_comments_after_ack(self, sid: str, session: AttendanceSession) -> None:
        """Send the breakout's newest comments after the join's ack: with it, in one write, when
        this node has them; else once they are read, in a task of its own (the ack does not
        wait for the read)."""
        kept = self._app[CHAT].newest_kept(session.org_id, session.breakout_id)
        if kept is None:
            self.server.start_background_task(self._read_last_comments, sid, session)
        else:
            self.server.after_ack(partial(self._send_last_comments, sid, session.breakout_id, kept))

    async def _read_last_comments(self, sid: str, session: AttendanceSession) -> None:
        try:
            comments = await self._app[CHAT].on_join(session.org_id, session.breakout_id)
        except Exception as exc:  # the comments are a courtesy; the join stands
            logger.warning("last comments of %s not sent: %s", session.breakout_id, exc)
            return
        await self._send_last_comments(sid, session.breakout_id, comments)

    async def _send_last_comments(
        self, sid: str, breakout_id: str, comments: list[Comment]
    ) -> None:
        await self.emit(
            LAST_COMMENTS,
            {"breakoutId": breakout_id, "comments": [comment_json(c) for c in comments]},
            to=sid,
            ignore_queue=True,  # the socket is on this node: no trip through Redis
        )

    async def on_disconnect(self, sid: str, reason: str | None = None) -> None:
        self._event_limits.pop(sid, None)
        self._app[ENGAGEMENT].forget(sid)
        attendance = self._app[ATTENDANCE]
        left_at = self.server.left_at(sid, self.namespace)
        try:
            async with attendance.seat(sid) as seat:
                outcome = await seat.disconnect(
                    left_at,
                    ExitReason.DISCONNECT,
                    said_goodbye=reason == self.server.reason.CLIENT_DISCONNECT,
                )
        except NotJoined:
            return  # already gone: closed by a shutdown that came first
        if outcome is not None:
            self._app[BROADCASTER].left(outcome)

    def _gone_at(self, sid: str) -> datetime:
        """When the client of a connection it has left (it came back on another) was last
        heard."""
        gone_at: datetime = self.server.left_at(sid, self.namespace, gone=True)
        return gone_at

    async def _follow(
        self, sid: str, before: AttendanceSession | None, after: AttendanceSession | None
    ) -> None:
        """Keep the socket in the chat room of its open session, and in no other."""
        was = before.place if before else None
        now = after.place if after else None
        if was == now:
            return
        if was is not None:
            await self.leave_room(sid, chat_room(was))
        if now is not None:
            await self.enter_room(sid, chat_room(now))

    async def _refusal(self, sid: str, handler_event: str) -> Json | None:
        """The ack refusing a client event, or None to handle it."""
        limiter = self._event_limits.get(sid)
        verdict = limiter.check(time.monotonic()) if limiter else Verdict.ALLOW
        if verdict is Verdict.DISCONNECT:
            logger.warning("disconnecting socket %s: it kept sending past its rate limit", sid)
            await self.disconnect(sid)
        if verdict is not Verdict.ALLOW:
            return error_ack(RateLimited.code, "too many events; slow down")
        if handler_event not in HANDLED_EVENTS:
            return error_ack(InvalidPayload.code, "unknown event")
        return None
