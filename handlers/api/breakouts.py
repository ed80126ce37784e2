"""Hosts manage breakouts over HTTP: create or update one, and end it on every node."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.bodies import breakout_spec
from handlers.http.validation import json_body, path_id
from handlers.keys import ATTENDANCE, BREAKOUTS, COMMANDS
from handlers.wire.records import breakout_json, iso_ms


async def put_breakout(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    payload = await json_body(request)
    stored = await request.app[BREAKOUTS].put(identity, wanted, breakout_spec(payload))
    await request.app[COMMANDS].breakout_changed(stored)
    return web.json_response(breakout_json(stored))


async def end_breakout(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    ended = await request.app[ATTENDANCE].end_breakout(identity, wanted)
    await request.app[COMMANDS].breakout_ended(ended)
    return web.json_response({"breakoutId": ended.id, "endedAt": iso_ms(ended.ended_at)})


def add_routes(app: web.Application) -> None:
    app.router.add_put("/api/breakouts/{breakout_id}", put_breakout)
    app.router.add_post("/api/breakouts/{breakout_id}/end", end_breakout)
