"""Hosts act on breakouts over HTTP: ending one closes every open session in it, on every node."""

from __future__ import annotations

from aiohttp import web

from handlers.bearer import bearer_identity
from handlers.context import ATTENDANCE, COMMANDS
from handlers.payloads import breakout_id
from handlers.wire import iso_ms


async def end_breakout(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = breakout_id(request.match_info["breakout_id"], "breakout id")
    ended = await request.app[ATTENDANCE].end_breakout(identity, wanted)
    await request.app[COMMANDS].breakout_ended(ended)
    return web.json_response({"breakoutId": ended.id, "endedAt": iso_ms(ended.ended_at)})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/breakouts/{breakout_id}/end", end_breakout)
