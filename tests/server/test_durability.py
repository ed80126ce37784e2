"""No acked event is lost when PostgreSQL goes away: the real server, a real PostgreSQL stopped
mid-traffic and started again, and real Socket.IO clients joining and leaving throughout."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.support.clients import Viewer
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer, private_postgres

CYCLES_MAX = 400  # per client: the loops end on time, this only bounds them


@dataclass
class Acks:
    joins: list[tuple[float, str]] = field(default_factory=list)
    leaves: list[tuple[float, str]] = field(default_factory=list)
    refusals: list[Any] = field(default_factory=list)


async def join_and_leave(viewer: Viewer, breakout: str, acks: Acks, stop: asyncio.Event) -> None:
    for _ in range(CYCLES_MAX):
        if stop.is_set():
            return
        joined = await viewer.call("join-chat-room", {"breakoutId": breakout})
        if not joined["ok"]:
            acks.refusals.append(joined)
            await asyncio.sleep(0.05)
            continue
        acks.joins.append((time.monotonic(), joined["sessionId"]))
        left = await viewer.call("leave-chat-room", {"breakoutId": breakout})
        if left["ok"]:
            acks.leaves.append((time.monotonic(), joined["sessionId"]))
        else:
            acks.refusals.append(left)
        await asyncio.sleep(0.01)


async def readiness(server: RunningServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
        body: dict[str, Any] = await response.json()
        return body


async def test_every_acked_event_survives_postgresql_stopping_mid_traffic(
    make_server: Any, connect: Any
) -> None:
    with private_postgres("attendance-outage-") as embedded:
        running = await asyncio.to_thread(embedded.start)
        server = await make_server(
            database_url=running.url,
            db_retry_s=0.2,
            breakout_cache_s=600,
            event_rate_per_s=1000,
            event_burst=1000,
        )
        breakout = new_breakout_id()
        viewers = [await connect(server, server.token(f"u{n}")) for n in range(4)]
        acks, stop = Acks(), asyncio.Event()
        traffic = [
            asyncio.create_task(join_and_leave(viewer, breakout, acks, stop)) for viewer in viewers
        ]

        await asyncio.sleep(0.7)
        await asyncio.to_thread(embedded.stop)
        stopped_at = time.monotonic()
        await asyncio.sleep(0.7)
        during = await readiness(server)
        await asyncio.sleep(0.8)
        restarted_at = time.monotonic()
        await asyncio.to_thread(embedded.start, running.port)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*traffic)

        for _ in range(100):
            if (await readiness(server))["status"] == "ready":
                break
            await asyncio.sleep(0.1)
        assert (await readiness(server))["status"] == "ready"

        async with server.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT session_id, exit_reason FROM attendance_sessions WHERE breakout_id = $1",
                breakout,
            )
        await server.stop()

    assert acks.refusals == []
    assert during["status"] == "degraded" and during["database"] == "unreachable"
    assert during["journalBacklog"] > 0
    in_outage = [sid for at, sid in acks.joins if stopped_at < at < restarted_at]
    assert len(in_outage) >= 4, "the clients kept being acked while PostgreSQL was down"

    stored = [row["session_id"] for row in rows]
    assert len(stored) == len(set(stored))  # exactly once
    assert set(stored) == {sid for _, sid in acks.joins}
    reasons = {row["session_id"]: row["exit_reason"] for row in rows}
    assert all(reasons[sid] == "leave" for _, sid in acks.leaves)
