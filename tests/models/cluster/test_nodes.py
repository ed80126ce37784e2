"""Node heartbeats against a real Redis and PostgreSQL: a failing reap never stops this node
beating, so no other node ever takes it for dead."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, cast

import asyncpg
import pytest
import redis.asyncio as redis

from models.cluster.nodes import HEARTBEATS_KEY, Heartbeat, NodeRegistry
from models.domain.errors import Unavailable
from models.domain.records import now_ms
from models.live.desk import Attendance
from models.live.redis_presence import connect_redis
from models.runtime.loops import Loop
from models.runtime.metrics import Metrics
from tests.support.records import create_breakout


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = connect_redis(redis_url, 4)
    yield connection
    await connection.aclose()


class FailingDesk:
    """Stands in for the desk of the reaping node: closing an orphan raises `error`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls = 0

    async def record_exit(self, *args: Any) -> Any:
        self.calls += 1
        raise self.error


async def beat_of(client: redis.Redis, node_id: str) -> int:
    return int(await client.hget(HEARTBEATS_KEY, node_id) or 0)


@pytest.mark.parametrize(
    "error",
    [
        Unavailable("the server is busy; try again shortly"),  # the writer's queue is full
        asyncpg.InterfaceError("connection is closed"),
        RuntimeError("a bug"),
        KeyError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_failing_reap_never_stops_this_node_beating(
    client: redis.Redis, db: asyncpg.Pool, error: BaseException
) -> None:
    me, dead = f"alive:{secrets.token_hex(3)}", f"dead:{secrets.token_hex(3)}"
    breakout = await create_breakout(db)
    async with db.acquire() as connection:  # the dead node left a session open
        await connection.execute(
            "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, org_id,"
            " node_id) VALUES ('u1', $1, 's1', now(), 'org-a', $2)",
            breakout,
            dead,
        )
    silent_since = now_ms() - timedelta(minutes=1)
    await client.hset(HEARTBEATS_KEY, dead, int(silent_since.timestamp() * 1000))
    desk = FailingDesk(error)
    metrics = Metrics()
    heartbeat = Heartbeat(
        NodeRegistry(client, me),
        db,
        cast(Attendance, desk),
        ttl_s=0.5,
        clock=now_ms,
        on_exit=lambda outcome: None,
    )
    loop = Loop("heartbeats", heartbeat.round, every_s=0.05, metrics=metrics)
    try:
        loop.start()
        await asyncio.sleep(0.3)
        first = await beat_of(client, me)
        await asyncio.sleep(0.6)  # longer than the TTL
        assert await beat_of(client, me) > first  # still beating after the failed reap
        observer = NodeRegistry(client, f"observer:{secrets.token_hex(3)}")
        found = {node for node, _ in await observer.dead(now_ms(), ttl_s=0.5)}
        assert me not in found and dead in found
        assert loop.running and desk.calls >= 1
        failed = metrics.registry.get_sample_value(
            "attendance_loop_failures_total", {"loop": "heartbeats"}
        )
        assert failed == 1  # one survivor claimed the reap; the claim holds it a while
    finally:
        await loop.stop()
        await client.hdel(HEARTBEATS_KEY, me, dead)
        await client.delete(f"reap:{dead}")


async def test_one_round_trip_beats_and_finds_the_silent(client: redis.Redis) -> None:
    me, other = f"a:{secrets.token_hex(3)}", f"b:{secrets.token_hex(3)}"
    now = now_ms()
    await client.hset(HEARTBEATS_KEY, other, int((now - timedelta(seconds=30)).timestamp() * 1000))
    try:
        registry = NodeRegistry(client, me)
        # Just started (or Redis just back): nobody is taken for dead before a TTL of beats.
        assert await registry.beat_and_find_dead(now, ttl_s=10) == []
        later = now + timedelta(seconds=11)
        found = await registry.beat_and_find_dead(later, ttl_s=10)
        assert (
            other,
            datetime.fromtimestamp(int(await beat_of(client, other)) / 1000, now.tzinfo),
        ) in found
        assert await beat_of(client, me) == int(later.timestamp() * 1000)
    finally:
        await client.hdel(HEARTBEATS_KEY, me, other)


async def test_a_node_killed_before_redis_restarted_empty_is_still_found_dead(
    client: redis.Redis,
) -> None:
    """Redis forgot every beat; this node had seen the dead one's last, and uses it."""
    me, killed = f"a:{secrets.token_hex(3)}", f"k:{secrets.token_hex(3)}"
    now = now_ms()
    last_beat = now - timedelta(seconds=1)
    await client.hset(HEARTBEATS_KEY, killed, int(last_beat.timestamp() * 1000))
    registry = NodeRegistry(client, me)
    try:
        assert await registry.beat_and_find_dead(now, ttl_s=10) == []
        await client.hdel(HEARTBEATS_KEY, killed)  # Redis restarted empty
        later = now + timedelta(seconds=12)
        found = await registry.beat_and_find_dead(later, ttl_s=10)
        assert found == [(killed, last_beat)]
    finally:
        await client.hdel(HEARTBEATS_KEY, me, killed)
