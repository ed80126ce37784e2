"""Breakouts over HTTP: an org's list and one breakout (with state and live viewers) for those
who read its sessions; hosts create or update one, and end it on every node."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.bodies import breakout_spec
from handlers.http.formats import data_response
from handlers.http.queries import breakout_search_of
from handlers.http.validation import json_body, path_id, read_query
from handlers.keys import ATTENDANCE, BREAKOUTS, COMMANDS
from handlers.wire.records import Json, breakout_json
from models.domain.fields import iso_ms
from models.domain.records import Breakout, now_ms


def _listed_json(breakout: Breakout, viewers: int | None, now: datetime) -> Json:
    return {**breakout_json(breakout), "state": breakout.state(now).value, "viewers": viewers}


async def list_breakouts(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = read_query(request, breakout_search_of)
    found = await request.app[ATTENDANCE].breakouts(identity, wanted)
    now = now_ms()
    full_page = len(found) == wanted.limit
    return data_response(
        [_listed_json(breakout, viewers, now) for breakout, viewers in found],
        next_cursor=found[-1][0].id if full_page else None,
    )


async def get_breakout(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    breakout, viewers = await request.app[ATTENDANCE].breakout(identity, wanted)
    return data_response(_listed_json(breakout, viewers, now_ms()))


async def put_breakout(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    payload = await json_body(request)
    stored = await request.app[BREAKOUTS].put(identity, wanted, breakout_spec(payload))
    await request.app[COMMANDS].breakout_changed(stored)
    return data_response(breakout_json(stored))


async def end_breakout(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    wanted = path_id(request, "breakout_id")
    ended = await request.app[ATTENDANCE].end_breakout(identity, wanted)
    await request.app[COMMANDS].breakout_ended(ended)
    return data_response({"breakoutId": ended.id, "endedAt": iso_ms(ended.ended_at)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts", list_breakouts)
    app.router.add_get("/api/breakouts/{breakout_id}", get_breakout)
    app.router.add_put("/api/breakouts/{breakout_id}", put_breakout)
    app.router.add_post("/api/breakouts/{breakout_id}/end", end_breakout)
