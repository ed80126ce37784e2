"""Validation of socket event payloads: the first bad field refuses the event (`invalid_payload`).

An ack carries one error, so the first problem found is the one told. Fields we do not know are
ignored, so newer clients keep working with this server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from models.domain.errors import InvalidPayload
from models.domain.fields import parse_id
from models.domain.records import ActivityState, SessionType
from models.live.chat import MAX_COMMENT_CHARS, MAX_COMMENTS_BEFORE, MAX_MUTE_MINUTES

T = TypeVar("T")


def _field(parse: Callable[[object], T], value: object, name: str) -> T:
    try:
        return parse(value)
    except ValueError as exc:
        raise InvalidPayload(f"{name} {exc}") from None


def _object(payload: object) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise InvalidPayload("the payload must be an object")
    return payload


def _session_type(value: object) -> SessionType:
    if value is None:
        return SessionType.LIVE
    if not isinstance(value, str) or value not in {kind.value for kind in SessionType}:
        raise ValueError("must be 'live' or 'on_demand'")
    return SessionType(value)


def _optional_id(value: object) -> str | None:
    return None if value is None else parse_id(value)


@dataclass(frozen=True, slots=True)
class JoinRequest:
    breakout_id: str
    session_type: SessionType
    # The sessionId of an earlier ack, to go on with that stay after a reconnect.
    resume_session_id: str | None = None


def join_request(payload: object) -> JoinRequest:
    """`{breakoutId, type?, resumeSessionId?}` with type `live` (default) or `on_demand`."""
    fields = _object(payload)
    return JoinRequest(
        _field(parse_id, fields.get("breakoutId"), "breakoutId"),
        _field(_session_type, fields.get("type"), "type"),
        _field(_optional_id, fields.get("resumeSessionId"), "resumeSessionId"),
    )


def breakout_request(payload: object) -> str:
    """`{breakoutId}`: the breakout to leave, watch or stop watching."""
    return _field(parse_id, _object(payload).get("breakoutId"), "breakoutId")


# Control characters but tab and line ends, and lone surrogates: never part of a comment.
_UNCLEAN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _comment_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    if not 1 <= len(text) <= MAX_COMMENT_CHARS:
        raise ValueError(f"must be 1 to {MAX_COMMENT_CHARS} characters once trimmed")
    if _UNCLEAN_TEXT.search(text):
        raise ValueError("must not hold control characters but tabs and new lines")
    return text


def _whole(low: int, high: int) -> Callable[[object], int]:
    def whole(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number {low}-{high}")
        return value

    return whole


@dataclass(frozen=True, slots=True)
class CommentRequest:
    breakout_id: str
    text: str
    reply_to: str | None


def comment_request(payload: object) -> CommentRequest:
    """`{breakoutId, text, replyTo?}`."""
    fields = _object(payload)
    return CommentRequest(
        _field(parse_id, fields.get("breakoutId"), "breakoutId"),
        _field(_comment_text, fields.get("text"), "text"),
        _field(_optional_id, fields.get("replyTo"), "replyTo"),
    )


def comments_before_request(payload: object) -> tuple[str, str, int]:
    """`{breakoutId, before?: commentId, limit?}` (limit 1-200, default 50; no `before`: the
    newest)."""
    fields = _object(payload)
    limit = fields.get("limit")
    return (
        _field(parse_id, fields.get("breakoutId"), "breakoutId"),
        _field(_optional_id, fields.get("before"), "before") or "",
        50 if limit is None else _field(_whole(1, MAX_COMMENTS_BEFORE), limit, "limit"),
    )


def comment_id_request(payload: object) -> tuple[str, str]:
    """`{breakoutId, commentId}`."""
    fields = _object(payload)
    return (
        _field(parse_id, fields.get("breakoutId"), "breakoutId"),
        _field(parse_id, fields.get("commentId"), "commentId"),
    )


def _activity_state(value: object) -> ActivityState:
    if not isinstance(value, str) or value not in {state.value for state in ActivityState}:
        raise ValueError(f"must be one of {', '.join(state.value for state in ActivityState)}")
    return ActivityState(value)


def activity_request(payload: object) -> tuple[str, ActivityState]:
    """`{breakoutId, state}`."""
    fields = _object(payload)
    return (
        _field(parse_id, fields.get("breakoutId"), "breakoutId"),
        _field(_activity_state, fields.get("state"), "state"),
    )


def mute_request(payload: object) -> tuple[str, str, int]:
    """`{breakoutId, userId, minutes}` (0 lifts a mute)."""
    fields = _object(payload)
    return (
        _field(parse_id, fields.get("breakoutId"), "breakoutId"),
        _field(parse_id, fields.get("userId"), "userId"),
        _field(_whole(0, MAX_MUTE_MINUTES), fields.get("minutes"), "minutes"),
    )
