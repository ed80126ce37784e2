"""Live presence over HTTP: the same snapshot a host's watch-breakout ack carries."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.formats import data_response
from handlers.http.validation import path_id
from handlers.keys import ATTENDANCE
from handlers.wire.records import viewer_json


async def breakout_presence(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    viewers = await request.app[ATTENDANCE].presence(identity, wanted)
    return data_response(
        {"breakoutId": wanted, "count": len(viewers), "viewers": [viewer_json(v) for v in viewers]}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts/{breakout_id}/presence", breakout_presence)
