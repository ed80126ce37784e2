"""Commands between the nodes of a cluster: to this process alone, or over Redis pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Protocol

import redis.asyncio as redis

from models.runtime.loops import Loop
from models.runtime.metrics import Metrics

logger = logging.getLogger(__name__)

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[None]]
CHANNEL = "attendance:bus"


class Kind(StrEnum):
    """What a cluster message asks of every node (its `kind`)."""

    # One interval's viewer counts and diffs of every breakout a node saw change.
    PRESENCE_UPDATES = "presence"
    # Close a session over its user's device limit, on whichever node holds it.
    EXPEL = "expel"
    # Let go of a session its client resumes on another node (the holder records its exit).
    RELEASE = "release"
    # Close every session of an ended breakout.
    END = "end"
    # Drop a cached breakout that a host changed.
    BREAKOUT_CHANGED = "breakout-changed"
    # Read a user's mute in a breakout afresh (a host muted or unmuted them).
    MUTED = "muted"


class Bus(Protocol):
    """Every published message reaches the handler of every node, the publisher's included."""

    def subscribe(self, handler: Handler) -> None: ...

    @property
    def listening(self) -> bool:
        """Whether this node hears the others now (a Redis subscription is up)."""
        ...

    async def publish(self, message: Message) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemoryBus:
    """One node: a published message is handled at once, here."""

    def __init__(self) -> None:
        self._handler: Handler | None = None

    def subscribe(self, handler: Handler) -> None:
        self._handler = handler

    @property
    def listening(self) -> bool:
        return True

    async def publish(self, message: Message) -> None:
        if self._handler is not None:
            await self._handler(message)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisBus:
    """Many nodes: messages go through one Redis channel; each is handled in its own task.

    The subscription is a loop of its own (`Loop`): when its connection to Redis breaks (Redis
    restarted, the connection killed), the loop logs and counts it and subscribes again, so a
    node never goes deaf to the cluster without a word."""

    def __init__(self, client: redis.Redis, metrics: Metrics | None = None) -> None:
        self._redis = client
        self._handler: Handler | None = None
        self._pubsub: Any = None
        self._listener = Loop("cluster-bus", self._listen, every_s=1.0, metrics=metrics)
        self._handling: set[asyncio.Task[None]] = set()

    def subscribe(self, handler: Handler) -> None:
        self._handler = handler

    @property
    def listening(self) -> bool:
        return self._pubsub is not None and bool(self._pubsub.subscribed)

    async def publish(self, message: Message) -> None:
        await self._redis.publish(CHANNEL, json.dumps(message, separators=(",", ":")))

    async def start(self) -> None:
        await self._subscribed()  # subscribed before start() returns: nothing is missed
        self._listener.start()

    async def close(self) -> None:
        # The round waits on the connection, not between rounds: cancel it at once.
        await self._listener.stop(timeout_s=0)
        if self._handling:
            await asyncio.wait(self._handling, timeout=5)
        if self._pubsub is not None:
            await self._pubsub.aclose()

    async def _subscribed(self) -> Any:
        """The subscription, made anew when the last one's connection broke."""
        if self._pubsub is None or not self._pubsub.subscribed:
            if self._pubsub is not None:
                await self._pubsub.aclose()
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            await self._pubsub.subscribe(CHANNEL)
        return self._pubsub

    async def _listen(self) -> None:
        """Hand every message on to its own task, until the connection breaks."""
        pubsub = await self._subscribed()
        try:
            async for item in pubsub.listen():
                if item.get("type") != "message" or self._handler is None:
                    continue
                try:
                    message = json.loads(item["data"])
                except ValueError:
                    logger.warning("ignored a malformed cluster message")
                    continue
                task = asyncio.create_task(self._handle(message))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)
        except Exception:
            self._pubsub = None  # subscribe on a new connection next round
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise

    async def _handle(self, message: Message) -> None:
        assert self._handler is not None  # noqa: S101 - checked before the task was made
        try:
            await self._handler(message)
        except Exception:
            logger.exception("cluster message %s failed", message.get("kind"))
