"""Analyst read path over HTTP: a breakout's sessions as JSON (in entry order, a page at a time:
`next_cursor` counts the sessions before the next page) or CSV (all of them)."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.formats import csv_response, data_response
from handlers.http.queries import MAX_PAGE, page_of, wants_csv
from handlers.http.validation import path_id, read_query
from handlers.keys import BREAKOUT_REPORTS
from handlers.wire.records import SESSION_FIELDS, session_json


async def list_sessions(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    as_csv, page = read_query(
        request,
        lambda q: (wants_csv(q, request), page_of(q, default=MAX_PAGE, numeric=True)),
    )
    skip = int(page.cursor or 0)
    sessions = await request.app[BREAKOUT_REPORTS].breakout_sessions(
        identity, wanted, *((0, None) if as_csv else (skip, page.limit))
    )
    rows = [session_json(session) for session in sessions]
    if as_csv:  # an export: every session
        return csv_response(rows, SESSION_FIELDS, f"sessions-{wanted}.csv")
    full_page = len(rows) == page.limit
    return data_response(rows, next_cursor=str(skip + len(rows)) if full_page else None)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts/{breakout_id}/sessions", list_sessions)
