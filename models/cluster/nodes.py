"""Node liveness across a cluster: heartbeats in Redis, and closing a dead node's sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as redis

from models.domain.records import ExitReason
from models.live.desk import Attendance, ExitOutcome
from models.store.sessions import fetch_open_sessions_of_node

logger = logging.getLogger(__name__)

HEARTBEATS_KEY = "nodes"  # hash: node id -> last heartbeat, epoch milliseconds
_CLAIM_PREFIX = "reap:"


class NodeRegistry:
    """Every node's last heartbeat, and a lock so one survivor alone reaps a dead node.

    No node is taken for dead because Redis was away: when Redis comes back, every other node's
    beat is stale at once (or, restarted empty, absent). So a node finds others dead or silent
    only once it has itself beaten without a failure for longer than the time it allows them.
    """

    def __init__(self, client: redis.Redis, node_id: str) -> None:
        self._redis = client
        self.node_id = node_id
        # Since when this node's beats have all reached Redis (None: the last one failed).
        self._healthy_since: datetime | None = None
        # Every node's latest beat this node has read.
        self._seen: dict[str, datetime] = {}

    async def beat(self, now: datetime) -> None:
        await self._redis.hset(HEARTBEATS_KEY, self.node_id, int(now.timestamp() * 1000))

    async def beat_and_find_dead(self, now: datetime, ttl_s: float) -> list[tuple[str, datetime]]:
        """Beat, and read who else is alive, in one round trip (two commands)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipeline:
                pipeline.hset(HEARTBEATS_KEY, self.node_id, int(now.timestamp() * 1000))
                pipeline.hgetall(HEARTBEATS_KEY)
                _, beats = await pipeline.execute()
        except Exception:
            self._healthy_since = None
            raise
        if self._healthy_since is None:
            self._healthy_since = now
        silent = self._silent(beats, now, ttl_s)
        return silent if self._healthy_for(now, ttl_s) else []

    def _healthy_for(self, now: datetime, seconds: float) -> bool:
        return (
            self._healthy_since is not None
            and (now - self._healthy_since).total_seconds() > seconds
        )

    async def dead(self, now: datetime, ttl_s: float) -> list[tuple[str, datetime]]:
        """Nodes not heard from for more than `ttl_s`, with when they last were."""
        return self._silent(await self._redis.hgetall(HEARTBEATS_KEY), now, ttl_s)

    def _silent(
        self, beats: dict[Any, Any], now: datetime, ttl_s: float
    ) -> list[tuple[str, datetime]]:
        """Every other node last seen more than `ttl_s` ago. What Redis holds joins what this
        node has seen: a node killed just before Redis restarted empty is gone from Redis, not
        from here, so its sessions are still closed at its last beat."""
        for node, stamp in beats.items():
            name = node.decode() if isinstance(node, bytes) else str(node)
            beat = datetime.fromtimestamp(int(stamp) / 1000, UTC)
            self._seen[name] = max(beat, self._seen.get(name, beat))
        return [
            (name, last)
            for name, last in self._seen.items()
            if name != self.node_id and (now - last).total_seconds() > ttl_s
        ]

    async def silent_since(self, node_id: str, now: datetime, after_s: float) -> datetime | None:
        """When `node_id` last beat, if that is more than `after_s` ago; None while it beats
        (or once it has been reaped and forgotten)."""
        if not self._healthy_for(now, after_s):
            return None
        stamp = await self._redis.hget(HEARTBEATS_KEY, node_id)
        if stamp is None:
            return None
        last = datetime.fromtimestamp(int(stamp) / 1000, UTC)
        return last if (now - last).total_seconds() > after_s else None

    async def claim(self, node_id: str, hold_s: float) -> bool:
        """Take the right to reap `node_id`; False when another survivor holds it."""
        return bool(
            await self._redis.set(
                _CLAIM_PREFIX + node_id, self.node_id, nx=True, ex=max(1, int(hold_s))
            )
        )

    async def forget(self, node_id: str) -> None:
        await self._redis.hdel(HEARTBEATS_KEY, node_id)
        self._seen.pop(node_id, None)


async def reap_node(
    pool: asyncpg.Pool, attendance: Attendance, node_id: str, last_heard: datetime
) -> list[ExitOutcome]:
    """Close every session a dead node left open, at its last heartbeat (reason node_lost)."""
    async with pool.acquire() as connection:
        orphans = await fetch_open_sessions_of_node(connection, node_id)
    return list(
        await asyncio.gather(
            *(attendance.record_exit(s, last_heard, ExitReason.NODE_LOST) for s in orphans)
        )
    )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One round of a node's heartbeat loop: beat, then close the sessions of every node silent
    for over `ttl_s` (one survivor per dead node, at its last heartbeat, reason node_lost).

    The beat comes first, so a failure while reaping another node never stops this one beating.
    """

    registry: NodeRegistry
    pool: asyncpg.Pool
    attendance: Attendance
    _: KW_ONLY
    ttl_s: float
    clock: Callable[[], datetime]
    on_exit: Callable[[ExitOutcome], None]

    async def round(self) -> None:
        now = self.clock()
        for node_id, last_heard in await self.registry.beat_and_find_dead(now, self.ttl_s):
            if not await self.registry.claim(node_id, hold_s=max(self.ttl_s, 30)):
                continue
            outcomes = await reap_node(self.pool, self.attendance, node_id, last_heard)
            for outcome in outcomes:
                self.on_exit(outcome)
            await self.registry.forget(node_id)
            # A node that stopped gracefully (or was reaped by another survivor) left none open.
            logger.log(
                logging.WARNING if outcomes else logging.INFO,
                "node %s silent since %s: closed its %d open sessions (node_lost)",
                node_id,
                last_heard.isoformat(),
                len(outcomes),
            )
