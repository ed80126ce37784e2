"""The wire format shared by the socket and HTTP edges: timestamps, records, error acks."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, ParamSpec

from models.domain.fields import iso_ms
from models.domain.records import AttendanceSession, Breakout
from models.live.presence import Viewer
from models.reports.rules import AppliedRule
from models.store.activity import Activity
from models.store.comments import Comment

logger = logging.getLogger(__name__)

Json = dict[str, Any]
P = ParamSpec("P")


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


def comment_json(comment: Comment) -> Json:
    return {
        "id": comment.id,
        "breakoutId": comment.breakout_id,
        "userId": comment.user_id,
        "name": comment.user_name,
        "text": comment.text,
        "replyTo": comment.reply_to,
        "createdAt": iso_ms(comment.created_at),
    }


# The analyst's columns of comments: a deleted one shows who took it down, not its text.
COMMENT_FIELDS = (
    "id",
    "breakoutId",
    "userId",
    "name",
    "text",
    "replyTo",
    "createdAt",
    "deletedAt",
    "deletedBy",
)


def comment_record_json(comment: Comment) -> Json:
    shown = comment_json(comment)
    if comment.deleted_at is not None:
        shown["text"] = None
    return shown | {"deletedAt": iso_ms(comment.deleted_at), "deletedBy": comment.deleted_by}


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
        # `reconnecting` while its connection is lost and its client may resume the session.
        "state": "live" if viewer.away_since is None else "reconnecting",
        "awaySince": iso_ms(viewer.away_since),
        # What its client last said it is doing (README "Engagement"); null until it says.
        "activity": viewer.activity,
        "activitySince": iso_ms(viewer.activity_since),
    }


def activity_json(activity: Activity) -> Json:
    """A presence-diff change of what a viewer is doing."""
    return {
        "userId": activity.user_id,
        "sessionId": activity.session_id,
        "activity": activity.state.value,
        "since": iso_ms(activity.at),
    }


def leave_json(user_id: str, session_id: str, reason: str | None, at: datetime | None) -> Json:
    """A presence-diff leave: who, why, and when (a lost connection: when last heard)."""
    return {
        "userId": user_id,
        "sessionId": session_id,
        "reason": reason,
        "exitTimestamp": iso_ms(at),
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
    "interruptions",
    "interruptedSeconds",
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
        session.interruptions,
        session.interrupted_seconds,
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


def rule_json(rule: AppliedRule, *, snake: bool = False) -> Json:
    """Which rule versions a report applied (README "Attendance rules"); `snake` for the school
    API's snake_case."""
    keys = ("basis", "as_of", "own_version", "server_version")
    if not snake:
        keys = ("basis", "asOf", "ownVersion", "serverVersion")
    values = (rule.basis.value, iso_ms(rule.as_of), rule.own_version, rule.server_version)
    return dict(zip(keys, values, strict=True))
