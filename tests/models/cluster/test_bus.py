"""The cluster bus against a real Redis: a subscription whose connection breaks comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from models.cluster.bus import Message, RedisBus
from models.live.redis_presence import connect_redis
from models.runtime.metrics import Metrics


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = connect_redis(redis_url, 4)
    yield connection
    await connection.aclose()


async def test_a_killed_subscription_subscribes_again(client: redis.Redis) -> None:
    received: asyncio.Queue[Message] = asyncio.Queue()

    async def handle(message: Message) -> None:
        await received.put(message)

    metrics = Metrics()
    bus = RedisBus(client, metrics=metrics)
    bus.subscribe(handle)
    await bus.start()
    try:
        await bus.publish({"kind": "ping", "n": 1})
        assert (await asyncio.wait_for(received.get(), 5))["n"] == 1

        await client.client_kill_filter(_type="pubsub")  # Redis drops every subscriber
        for _ in range(50):  # the loop notices, backs off, subscribes again
            await asyncio.sleep(0.1)
            await bus.publish({"kind": "ping", "n": 2})
            if not received.empty():
                break
        assert (await asyncio.wait_for(received.get(), 5))["n"] == 2
        failed = metrics.registry.get_sample_value(
            "attendance_loop_failures_total", {"loop": "cluster-bus"}
        )
        assert failed is not None and failed >= 1
    finally:
        await bus.close()
