"""Analyst read path over HTTP: a breakout's sessions as JSON or CSV."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from handlers.bearer import bearer_identity
from handlers.context import BREAKOUTS, POOL
from handlers.payloads import breakout_id
from handlers.wire import SESSION_FIELDS, session_json
from models.errors import InvalidPayload
from models.reports import breakout_sessions


def _wants_csv(request: web.Request) -> bool:
    chosen = request.query.get("format")
    if chosen is not None:
        if chosen not in {"json", "csv"}:
            raise InvalidPayload("format must be json or csv")
        return chosen == "csv"
    return "text/csv" in request.headers.get("Accept", "")


async def list_sessions(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = breakout_id(request.match_info["breakout_id"], "breakout id")
    as_csv = _wants_csv(request)
    sessions = await breakout_sessions(request.app[POOL], request.app[BREAKOUTS], identity, wanted)
    rows = [session_json(session) for session in sessions]
    if not as_csv:
        return web.json_response({"sessions": rows})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SESSION_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sessions-{wanted}.csv"'},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts/{breakout_id}/sessions", list_sessions)
