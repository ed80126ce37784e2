"""Probes for orchestrators: /healthz (the process answers) and /readyz (the database does)."""

from __future__ import annotations

import asyncio
import hashlib
import logging

from aiohttp import web

from handlers.context import NODE_ID, POOL
from handlers.problems import problem

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 2.0


def public_node_name(node_id: str) -> str:
    """Which process answered, without telling the world its host name and pid."""
    return hashlib.sha256(node_id.encode()).hexdigest()[:12]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "node": public_node_name(request.app[NODE_ID])})


async def readyz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            async with request.app[POOL].acquire() as connection:
                await connection.fetchval("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        logger.warning("readiness check failed: %s", exc)
        return problem(503, "unavailable", "the database is not reachable")
    return web.json_response({"status": "ready"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
