"""Probes for orchestrators: /healthz (the process answers) and /readyz (it can record)."""

from __future__ import annotations

import hashlib

from aiohttp import web

from handlers.http.problems import problem
from handlers.keys import BUS, NODE_ID, POOL, PRESENCE, REDIS, SETTINGS, WRITER
from models.live.redis_presence import redis_answers
from models.store.database import database_answers

READY_TIMEOUT_S = 2.0


def public_node_name(node_id: str) -> str:
    """Which process answered, without telling the world its host name and pid."""
    return hashlib.sha256(node_id.encode()).hexdigest()[:12]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "node": public_node_name(request.app[NODE_ID])})


async def readyz(request: web.Request) -> web.Response:
    """200 `ready`; 200 `degraded` while writes are acked from the local journal (PostgreSQL
    away, or the journal still replaying), or while Redis is away (live presence and cross-node
    messages wait; joins and leaves are recorded): every node shares both, so taking them all
    out of a load balancer would refuse events they can keep; 503 when nothing can record."""
    app = request.app
    writer = app[WRITER]
    reachable = await database_answers(app[POOL], READY_TIMEOUT_S)
    redis_up = not app[SETTINGS].uses_redis or await redis_answers(app[REDIS], READY_TIMEOUT_S)
    presence_up = redis_up and not app[PRESENCE].degraded
    # A node that does not hear the others yet (its subscription is being made again) would
    # miss their expels, ends and releases.
    cluster_up = app[BUS].listening
    if reachable and not writer.degraded and presence_up and cluster_up:
        return web.json_response({"status": "ready"})
    if reachable or writer.journaling:
        state = {
            "status": "degraded",
            "database": "reachable" if reachable else "unreachable",
            "journalBacklog": writer.journal_backlog,
        }
        if app[SETTINGS].uses_redis:
            state["redis"] = "reachable" if redis_up else "unreachable"
            state["presence"] = "live" if presence_up else "catching up"
            state["cluster"] = "listening" if cluster_up else "subscribing"
        return web.json_response(state)
    return problem(503, "unavailable", "the database is not reachable")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
