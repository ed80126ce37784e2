"""Breakout attendance reports: per user of one breakout (JSON or CSV), per period for an org."""

from __future__ import annotations

import json

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.formats import csv_response, data_response
from handlers.http.queries import (
    MAX_PAGE,
    MAX_REPORT_PAGE,
    page_of,
    report_query_of,
    rule_basis_of,
    wants_csv,
)
from handlers.http.validation import path_id, read_query
from handlers.keys import BREAKOUT_REPORTS
from handlers.wire.records import Json, rule_json
from models.domain.fields import iso_ms, parse_count
from models.domain.records import now_ms
from models.reports.breakouts import BreakoutPeriod, BreakoutReport
from models.reports.engagement import EngagedTime, UserAnalytics
from models.reports.rules import RuleBasis

USER_FIELDS = (
    "userId",
    "userName",
    "firstJoin",
    "lastLeave",
    "attendedSeconds",
    "sessions",
    "onDemandSeconds",
    "onDemandSessions",
    "openSessions",
    "activeSeconds",
    "idleSeconds",
    "comments",
    "percent",
    "present",
    "recordedSeconds",
    "recordedPresent",
    "corrected",
    "corrections",
)


def _users_json(report: BreakoutReport) -> list[Json]:
    return [
        dict(
            zip(
                USER_FIELDS,
                (
                    user.user_id,
                    user.user_name,
                    iso_ms(user.first_join),
                    iso_ms(user.last_leave),
                    round(user.seconds, 3),
                    user.sessions,
                    round(user.on_demand_seconds, 3),
                    user.on_demand_sessions,
                    user.open_sessions,
                    round(user.active_seconds, 3),
                    round(user.idle_seconds, 3),
                    user.comments,
                    user.percent,
                    user.present,
                    round(user.recorded_seconds, 3),
                    user.recorded_present,
                    user.corrected,
                    list(user.corrections),
                ),
                strict=True,
            )
        )
        for user in report.users
    ]


def _user_pages(request: web.Request) -> tuple[bool, str, int | None, RuleBasis]:
    """What a per-user report of a breakout asks for: CSV (every user, so no limit), or a JSON
    page of users after a cursor (a user id); and under which rule."""
    as_csv, page, basis = read_query(
        request,
        lambda q: (
            wants_csv(q, request),
            page_of(q, default=MAX_PAGE, most=MAX_REPORT_PAGE),
            rule_basis_of(q),
        ),
    )
    return as_csv, page.cursor or "", None if as_csv else page.limit, basis


def _next_user(user_ids: list[str], limit: int | None) -> str | None:
    """The cursor of the page after a full one, None after the last."""
    return user_ids[-1] if user_ids and len(user_ids) == limit else None


async def breakout_attendance(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    as_csv, after, limit, basis = _user_pages(request)
    report = await request.app[BREAKOUT_REPORTS].breakout_attendance(
        identity, wanted, now_ms(), after, limit, basis
    )
    users = _users_json(report)
    if as_csv:  # an export: every user; a cell holds the correction ids as "3;7"
        rows = [{**user, "corrections": ";".join(map(str, user["corrections"]))} for user in users]
        return csv_response(rows, USER_FIELDS, f"attendance-{wanted}.csv")
    return data_response(
        attendance_json(report, users),
        next_cursor=_next_user([user.user_id for user in report.users], limit),
    )


def attendance_json(report: BreakoutReport, users: list[Json] | None = None) -> Json:
    """A breakout's attendance report as its route answers it (and `breakout.ended` sends it)."""
    breakout, policy = report.breakout, report.policy
    return {
        "breakoutId": breakout.id,
        "name": breakout.name,
        "startsAt": iso_ms(breakout.starts_at),
        "endsAt": iso_ms(breakout.ends_at),
        "scheduledSeconds": breakout.scheduled_seconds,
        "policy": {"minMinutes": policy.min_minutes, "minPercent": policy.min_percent},
        "rule": rule_json(report.rule),
        "attendees": report.total_users,
        "present": report.present,
        "absent": report.total_users - report.present,
        "recordedPresent": report.recorded_present,
        "correctedUsers": report.corrected,
        "users": _users_json(report) if users is None else users,
    }


def _time_json(time: EngagedTime) -> Json:
    return {
        "attendedSeconds": round(time.attended_seconds, 3),
        "activeSeconds": round(time.active_seconds, 3),
        "idleSeconds": round(time.idle_seconds, 3),
        "pausedSeconds": round(time.paused_seconds, 3),
        "hiddenSeconds": round(time.hidden_seconds, 3),
        "unknownSeconds": round(time.unknown_seconds, 3),
    }


def _analytics_json(user: UserAnalytics) -> Json:
    return {
        "userId": user.user_id,
        "userName": user.user_name,
        "firstSeen": iso_ms(user.first_seen),
        "lastSeen": iso_ms(user.last_seen),
        "sessions": user.sessions,
        "liveSessions": user.live_sessions,
        "openSessions": user.open_sessions,
        "devices": user.devices,
        "deviceMix": user.device_mix,
        "locationMix": user.location_mix,
        "comments": user.comments,
        **_time_json(user.time),
    }


# The CSV's columns, in the JSON's order.
ANALYTICS_FIELDS = (
    "userId",
    "userName",
    "firstSeen",
    "lastSeen",
    "sessions",
    "liveSessions",
    "openSessions",
    "devices",
    "deviceMix",
    "locationMix",
    "comments",
    "attendedSeconds",
    "activeSeconds",
    "idleSeconds",
    "pausedSeconds",
    "hiddenSeconds",
    "unknownSeconds",
)


async def breakout_analytics(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    as_csv, after, limit, _ = _user_pages(request)
    found = await request.app[BREAKOUT_REPORTS].analytics(identity, wanted, after, limit)
    users = [_analytics_json(user) for user in found.users]
    if as_csv:  # an export: every user, each mix as a JSON object in its cell
        rows = [
            {
                **user,
                "deviceMix": json.dumps(user["deviceMix"]),
                "locationMix": json.dumps(user["locationMix"]),
            }
            for user in users
        ]
        return csv_response(rows, ANALYTICS_FIELDS, f"analytics-{wanted}.csv")
    summary = found.summary
    attended = summary.time.attended_seconds
    shown: Json = {
        "users": summary.users,
        "sessions": summary.sessions,
        "comments": summary.comments,
        "commenters": summary.commenters,
        "reportingUsers": summary.reporting,
        **_time_json(summary.time),
        "activeShare": round(summary.time.active_seconds / attended, 4) if attended else None,
    }
    return data_response(
        {"breakoutId": wanted, "summary": shown, "users": users},
        next_cursor=_next_user([user.user_id for user in found.users], limit),
    )


def _period_json(period: BreakoutPeriod, *, detail: bool) -> Json:
    row: Json = {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "breakouts": period.breakouts,
        "attendees": period.attendees,
        "present": period.present,
        "absent": period.absent,
        "recordedPresent": period.recorded_present,
    }
    if detail:
        row["perBreakout"] = [
            {
                "breakoutId": key,
                "present": present,
                "absent": absent,
                "rule": rule_json(period.rules[key]),
            }
            for key, (present, absent) in sorted(period.per_breakout.items())
        ]
    return row


PERIOD_FIELDS = ("start", "end", "breakouts", "attendees", "present", "absent", "recordedPresent")
TIMELINE_FIELDS = ("start", "joins", "leaves", "peak", "viewers")
BREAKDOWNS = {
    "deviceType": "device_type",
    "browser": "browser",
    "os": "os",
    "country": "country_code",
}


async def org_breakouts_aggregate(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted, as_csv = read_query(request, lambda q: (report_query_of(q), wants_csv(q, request)))
    periods = await request.app[BREAKOUT_REPORTS].org_breakouts(
        identity,
        first=wanted.first,
        last=wanted.last,
        period=wanted.period,
        now=now_ms(),
        basis=wanted.basis,
    )
    if as_csv:
        rows = [_period_json(period, detail=False) for period in periods]
        return csv_response(rows, PERIOD_FIELDS, f"breakouts-{wanted.period.value}.csv")
    return data_response(
        {
            "orgId": identity.org_id,
            "from": wanted.first.isoformat(),
            "to": wanted.last.isoformat(),
            "period": wanted.period.value,
            "ruleBasis": wanted.basis.value,
            "periods": [_period_json(period, detail=wanted.detail) for period in periods],
        }
    )


async def breakout_timeline(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    step, as_csv = read_query(
        request,
        lambda q: (q.parsed("step", lambda v: parse_count(v, 1, 86_400)), wants_csv(q, request)),
    )
    timeline = await request.app[BREAKOUT_REPORTS].timeline(identity, wanted, now_ms(), step)
    buckets = [
        dict(
            zip(
                TIMELINE_FIELDS,
                (iso_ms(b.start), b.joins, b.leaves, b.peak, b.viewers),
                strict=True,
            )
        )
        for b in timeline.buckets
    ]
    if as_csv:
        return csv_response(buckets, TIMELINE_FIELDS, f"timeline-{wanted}.csv")
    return data_response({"breakoutId": wanted, "stepSeconds": timeline.step_s, "buckets": buckets})


async def breakout_breakdowns(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    shares = await request.app[BREAKOUT_REPORTS].breakdowns(identity, wanted)
    return data_response(
        {
            "breakoutId": wanted,
            **{
                key: [
                    {"value": share.value, "users": share.users, "sessions": share.sessions}
                    for share in shares[column]
                ]
                for key, column in BREAKDOWNS.items()
            },
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts/{breakout_id}/timeline", breakout_timeline)
    app.router.add_get("/api/breakouts/{breakout_id}/breakdowns", breakout_breakdowns)
    app.router.add_get("/api/breakouts/{breakout_id}/attendance", breakout_attendance)
    app.router.add_get("/api/breakouts/{breakout_id}/analytics", breakout_analytics)
    app.router.add_get("/api/attendances/aggregate/breakouts", org_breakouts_aggregate)
