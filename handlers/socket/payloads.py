"""Validation of what clients send: every event payload and path id, before the domain sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from models.domain.errors import InvalidPayload
from models.domain.records import BreakoutSpec, SessionType

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


MAX_NAME_CHARS = 200
MAX_DEVICE_LIMIT = 1000


def aware_time(value: object, field: str) -> datetime:
    """An ISO 8601 time with a zone (`2026-11-21T09:30:00Z`), or InvalidPayload naming `field`."""
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidPayload(f"{field} must be an ISO 8601 time with a zone") from None
    if moment.tzinfo is None:
        raise InvalidPayload(f"{field} needs a time zone (Z or +hh:mm)")
    return moment


def _optional_time(fields: dict[str, object], key: str) -> datetime | None:
    value = fields.get(key)
    return None if value is None else aware_time(value, key)


def breakout_spec(payload: object) -> BreakoutSpec:
    """`{name?, startsAt?, endsAt?, deviceLimit?, presentMinMinutes?, presentMinPercent?}`."""
    fields = _object(payload)
    name = fields.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS):
        raise InvalidPayload(f"name must be 1 to {MAX_NAME_CHARS} characters, or null")
    limit = fields.get("deviceLimit")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_DEVICE_LIMIT
    ):
        raise InvalidPayload(f"deviceLimit must be a whole number 0-{MAX_DEVICE_LIMIT}, or null")
    starts_at, ends_at = _optional_time(fields, "startsAt"), _optional_time(fields, "endsAt")
    if starts_at and ends_at and ends_at < starts_at:
        raise InvalidPayload("endsAt is before startsAt")
    minutes, percent = fields.get("presentMinMinutes"), fields.get("presentMinPercent")
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 100_000
    ):
        raise InvalidPayload("presentMinMinutes must be a whole number of minutes, or null")
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100
    ):
        raise InvalidPayload("presentMinPercent must be a number 0-100, or null")
    if minutes is not None and percent is not None:
        raise InvalidPayload("set presentMinMinutes or presentMinPercent, not both")
    return BreakoutSpec(
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        device_limit=limit,
        present_min_minutes=minutes,
        present_min_percent=None if percent is None else float(percent),
    )
