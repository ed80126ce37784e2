"""Validation of what clients send: every event payload and path id, before the domain sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.errors import InvalidPayload
from models.records import SessionType

MAX_ID_CHARS = 128
_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]+")
_SESSION_TYPES = frozenset(kind.value for kind in SessionType)


def breakout_id(value: object, field: str = "breakoutId") -> str:
    if not isinstance(value, str):
        raise InvalidPayload(f"{field} must be a string")
    if not 1 <= len(value) <= MAX_ID_CHARS:
        raise InvalidPayload(f"{field} must be 1 to {MAX_ID_CHARS} characters")
    if not _ID_PATTERN.fullmatch(value):
        raise InvalidPayload(f"{field} may hold only letters, digits and _ . : -")
    return value


def _object(payload: object) -> dict[str, object]:
    # Fields we do not know are ignored, so newer clients keep working with this server.
    if not isinstance(payload, dict):
        raise InvalidPayload("the payload must be an object")
    return payload


@dataclass(frozen=True, slots=True)
class JoinRequest:
    breakout_id: str
    session_type: SessionType


def join_request(payload: object) -> JoinRequest:
    """`{breakoutId, type?}` with type `live` (default) or `on_demand`."""
    fields = _object(payload)
    kind = fields.get("type")
    if kind is None:
        return JoinRequest(breakout_id(fields.get("breakoutId")), SessionType.LIVE)
    if not isinstance(kind, str) or kind not in _SESSION_TYPES:
        raise InvalidPayload("type must be 'live' or 'on_demand'")
    return JoinRequest(breakout_id(fields.get("breakoutId")), SessionType(kind))


def breakout_request(payload: object) -> str:
    """`{breakoutId}`: the breakout to leave, watch or stop watching."""
    return breakout_id(_object(payload).get("breakoutId"))
