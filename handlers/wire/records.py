"""The wire format shared by the socket and HTTP edges: timestamps, records, error acks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec

from models.domain.errors import DomainError
from models.domain.records import AttendanceSession, Breakout
from models.live.presence import Viewer

logger = logging.getLogger(__name__)

Json = dict[str, Any]
P = ParamSpec("P")


def room_name(breakout_id: str) -> str:
    return f"chat-room-{breakout_id}"


def watchers_room(breakout_id: str) -> str:
    """Hosts watching a breakout; kept apart from the chat room so viewers hear no host events."""
    return f"watchers-{breakout_id}"


def iso_ms(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z: 2026-11-21T09:30:00.123Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def breakout_json(breakout: Breakout) -> Json:
    return {
        "breakoutId": breakout.id,
        "orgId": breakout.org_id,
        "name": breakout.name,
        "startsAt": iso_ms(breakout.starts_at),
        "endsAt": iso_ms(breakout.ends_at),
        "endedAt": iso_ms(breakout.ended_at),
        "deviceLimit": breakout.device_limit,
        "presentMinMinutes": breakout.present_min_minutes,
        "presentMinPercent": breakout.present_min_percent,
    }


def viewer_json(viewer: Viewer) -> Json:
    return {
        "userId": viewer.user_id,
        "name": viewer.name,
        "sessionId": viewer.session_id,
        "since": iso_ms(viewer.since),
        "city": viewer.city,
        "countryCode": viewer.country_code,
        "browser": viewer.browser,
        "os": viewer.os,
        "device": viewer.device,
    }


# The analyst's columns, in order: JSON keys and CSV header alike.
SESSION_FIELDS = (
    "userId",
    "userName",
    "breakoutId",
    "sessionId",
    "sessionType",
    "entryTimestamp",
    "exitTimestamp",
    "exitReason",
    "attended",
    "durationSeconds",
    "city",
    "region",
    "countryCode",
    "latitude",
    "longitude",
    "browser",
    "browserVersion",
    "os",
    "osVersion",
    "deviceType",
)


def session_json(session: AttendanceSession) -> Json:
    client = session.client
    values = (
        session.user_id,
        session.user_name,
        session.breakout_id,
        session.session_id,
        session.session_type.value,
        iso_ms(session.entry_ts),
        iso_ms(session.exit_ts),
        None if session.exit_reason is None else session.exit_reason.value,
        session.attended,
        session.duration_seconds,
        client.city,
        client.region,
        client.country_code,
        client.latitude,
        client.longitude,
        client.browser,
        client.browser_version,
        client.os,
        client.os_version,
        client.device_type,
    )
    return dict(zip(SESSION_FIELDS, values, strict=True))


def error_ack(code: str, message: str) -> Json:
    return {"ok": False, "error": {"code": code, "message": message}}


def acked(handler: Callable[P, Awaitable[Json]]) -> Callable[P, Awaitable[Json]]:
    """Turn a socket event handler's refusals into `{ok:false, error}` acks.

    Domain errors carry a message meant for the client; anything else is logged here and the
    client learns only that the server could not do it, never a traceback.
    """

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Json:
        try:
            return await handler(*args, **kwargs)
        except DomainError as exc:
            return error_ack(exc.code, exc.message)
        except Exception:
            logger.exception("event handler %s failed", handler.__name__)
            return error_ack("unavailable", "the server could not handle this event")

    return wrapper
