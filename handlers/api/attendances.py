"""Check-ins and check-outs over REST, their fever alerts, and the school attendance aggregate."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.bodies import check_event_request
from handlers.http.formats import csv_response, data_response
from handlers.http.queries import event_filter_of, page_of, report_query_of, wants_csv
from handlers.http.validation import json_body, path_id, path_number, read_query
from handlers.keys import CHECKINS, SCHOOL_REPORTS, SIO
from handlers.wire.names import FEVER_ALERT, FEVER_ALERT_ACKNOWLEDGED, staff_room
from handlers.wire.schools import alert_json, event_json, school_report_json
from models.domain.records import now_ms
from models.schools.checkins import NO_CURSOR


async def record_event(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    spec = check_event_request(await json_body(request))
    event, alert = await request.app[CHECKINS].record(identity, spec, now_ms())
    body = event_json(event) | {"fever_alert": None if alert is None else alert_json(alert)}
    if alert is not None:  # after the commit: an alert on screen is one that is stored
        await request.app[SIO].emit(FEVER_ALERT, alert_json(alert), room=staff_room(alert.org_id))
    return data_response(body, status=201)


async def list_events(request: web.Request) -> web.Response:
    page, wanted = read_query(request, lambda q: (page_of(q, numeric=True), event_filter_of(q)))
    events = await request.app[CHECKINS].list_events(
        bearer_identity(request), wanted, int(page.cursor or 0), page.limit
    )
    next_cursor = str(events[-1].id) if len(events) == page.limit else None
    return data_response([event_json(e) for e in events], next_cursor=next_cursor)


async def get_event(request: web.Request) -> web.Response:
    event = await request.app[CHECKINS].get(
        bearer_identity(request), path_number(request, "attendance")
    )
    return data_response(event_json(event))


async def delete_event(request: web.Request) -> web.Response:
    await request.app[CHECKINS].delete(bearer_identity(request), path_number(request, "attendance"))
    return web.Response(status=204)


async def _alerts(request: web.Request, school_id: str | None) -> web.Response:
    page, unacknowledged = read_query(
        request,
        lambda q: (page_of(q, numeric=True), q.choice("acknowledged", {"true", "false"})),
    )
    alerts = await request.app[CHECKINS].fever_alerts(
        bearer_identity(request),
        school_id,
        int(page.cursor or NO_CURSOR),
        page.limit,
        unacknowledged=unacknowledged == "false",
    )
    next_cursor = str(alerts[-1].id) if len(alerts) == page.limit else None
    return data_response([alert_json(a) for a in alerts], next_cursor=next_cursor)


async def list_fever_alerts(request: web.Request) -> web.Response:
    return await _alerts(request, path_id(request, "id"))


async def list_org_fever_alerts(request: web.Request) -> web.Response:
    return await _alerts(request, None)


async def acknowledge_fever_alert(request: web.Request) -> web.Response:
    alert_id = path_number(request, "fever alert")
    alert = await request.app[CHECKINS].acknowledge(bearer_identity(request), alert_id, now_ms())
    await request.app[SIO].emit(
        FEVER_ALERT_ACKNOWLEDGED, alert_json(alert), room=staff_room(alert.org_id)
    )
    return data_response(alert_json(alert))


SCHOOL_PERIOD_FIELDS = ("start", "end", "school_days", "present", "absent", "recorded_present")
SCHOOL_USER_FIELDS = (
    "start",
    "end",
    "user_id",
    "name",
    "present",
    "present_days",
    "school_days",
    "seconds",
    "recorded_present",
    "corrected_days",
)


async def school_aggregate(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted, as_csv = read_query(request, lambda q: (report_query_of(q), wants_csv(q, request)))
    report = await request.app[SCHOOL_REPORTS].school_attendance(
        identity,
        path_id(request, "id"),
        first=wanted.first,
        last=wanted.last,
        period=wanted.period,
        now=now_ms(),
        detail=wanted.detail,
        basis=wanted.basis,
    )
    body = school_report_json(report, detail=wanted.detail)
    if not as_csv:
        return data_response(body)
    name = f"school-{report.school.id}-{wanted.period.value}.csv"
    if not wanted.detail:  # one row a period
        return csv_response(body["periods"], SCHOOL_PERIOD_FIELDS, name)
    rows = [  # one row a user and period
        {"start": period["start"], "end": period["end"], **user}
        for period in body["periods"]
        for user in period["users"]
    ]
    return csv_response(rows, SCHOOL_USER_FIELDS, name)


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/api/attendances", list_events)
    router.add_post("/api/attendances", record_event)
    router.add_get("/api/attendances/aggregate/school/{id}", school_aggregate)
    router.add_get("/api/attendances/{id}", get_event)
    router.add_delete("/api/attendances/{id}", delete_event)
    router.add_get("/api/schools/{id}/fever-alerts", list_fever_alerts)
    router.add_get("/api/fever-alerts", list_org_fever_alerts)
    router.add_post("/api/fever-alerts/{id}/acknowledge", acknowledge_fever_alert)
