"""Validation of socket event payloads: the first bad field refuses the event (`invalid_payload`).

An ack carries one error, so the first problem found is the one told. Fields we do not know are
ignored, so newer clients keep working with this server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from models.domain.errors import InvalidPayload
from models.domain.fields import parse_id
from models.domain.records import SessionType

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
