"""Analyst read path over HTTP: a breakout's sessions as JSON or CSV."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.formats import csv_response
from handlers.http.queries import wants_csv
from handlers.http.validation import path_id, read_query
from handlers.keys import BREAKOUT_REPORTS
from handlers.wire.records import SESSION_FIELDS, session_json


async def list_sessions(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    as_csv = read_query(request, lambda q: wants_csv(q, request))
    sessions = await request.app[BREAKOUT_REPORTS].breakout_sessions(identity, wanted)
    rows = [session_json(session) for session in sessions]
    if not as_csv:
        return web.json_response({"sessions": rows})
    return csv_response(rows, SESSION_FIELDS, f"sessions-{wanted}.csv")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts/{breakout_id}/sessions", list_sessions)
