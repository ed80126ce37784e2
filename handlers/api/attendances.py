"""Check-ins and check-outs over REST, their fever alerts, and the school attendance aggregate."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.bodies import check_event_request
from handlers.http.formats import data_response
from handlers.http.queries import event_filter_of, page_of, report_query_of
from handlers.http.validation import json_body, path_id, read_query
from handlers.keys import CHECKINS, SCHOOL_REPORTS, SIO
from handlers.wire.names import FEVER_ALERT, staff_room
from handlers.wire.schools import alert_json, event_json, school_report_json
from models.domain.errors import NotFound
from models.domain.records import now_ms
from models.schools.checkins import NO_CURSOR


def _event_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(f"attendance {raw} does not exist")
    return int(raw)


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
    event = await request.app[CHECKINS].get(bearer_identity(request), _event_id(request))
    return data_response(event_json(event))


async def delete_event(request: web.Request) -> web.Response:
    await request.app[CHECKINS].delete(bearer_identity(request), _event_id(request))
    return web.Response(status=204)


async def list_fever_alerts(request: web.Request) -> web.Response:
    page = read_query(request, lambda q: page_of(q, numeric=True))
    alerts = await request.app[CHECKINS].fever_alerts(
        bearer_identity(request),
        path_id(request, "id"),
        int(page.cursor or NO_CURSOR),
        page.limit,
    )
    next_cursor = str(alerts[-1].id) if len(alerts) == page.limit else None
    return data_response([alert_json(a) for a in alerts], next_cursor=next_cursor)


async def school_aggregate(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = read_query(request, report_query_of)
    report = await request.app[SCHOOL_REPORTS].school_attendance(
        identity,
        path_id(request, "id"),
        first=wanted.first,
        last=wanted.last,
        period=wanted.period,
        now=now_ms(),
        detail=wanted.detail,
    )
    return data_response(school_report_json(report, detail=wanted.detail))


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/api/attendances", list_events)
    router.add_post("/api/attendances", record_event)
    router.add_get("/api/attendances/aggregate/school/{id}", school_aggregate)
    router.add_get("/api/attendances/{id}", get_event)
    router.add_delete("/api/attendances/{id}", delete_event)
    router.add_get("/api/schools/{id}/fever-alerts", list_fever_alerts)
