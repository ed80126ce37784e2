"""A breakout's comments over HTTP, for its org's analysts, hosts and admins: JSON a page at a
time (oldest first; `next_cursor` is the last comment's id) or CSV (all of them)."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.formats import csv_response, data_response
from handlers.http.queries import MAX_PAGE, page_of, wants_csv
from handlers.http.validation import path_id, read_query
from handlers.keys import CHAT
from handlers.wire.records import COMMENT_FIELDS, comment_record_json


async def list_comments(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    as_csv, page = read_query(
        request, lambda q: (wants_csv(q, request), page_of(q, default=MAX_PAGE))
    )
    comments = await request.app[CHAT].record(
        identity, wanted, "" if as_csv else page.cursor or "", None if as_csv else page.limit
    )
    rows = [comment_record_json(comment) for comment in comments]
    if as_csv:
        return csv_response(rows, COMMENT_FIELDS, f"comments-{wanted}.csv")
    full_page = len(rows) == page.limit
    return data_response(rows, next_cursor=comments[-1].id if full_page else None)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts/{breakout_id}/comments", list_comments)
