"""Live presence in Redis, shared by every node: one small hash of viewer cards per breakout."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import redis.asyncio as redis

from models.presence import Viewer

# Short keys: with tens of thousands of live viewers every byte of key repeats.
_KEY_PREFIX = "p:"


def presence_key(breakout_id: str) -> str:
    return _KEY_PREFIX + breakout_id


def devices_key(breakout_id: str, user_id: str) -> str:
    # "|" is in neither id's alphabet, so no two (breakout, user) pairs share a key.
    return f"u:{breakout_id}|{user_id}"


def encode_viewer(viewer: Viewer) -> str:
    """A compact card: a JSON array, the session id being the hash field."""
    since_ms = int(viewer.since.timestamp() * 1000)
    card = [
        viewer.user_id,
        viewer.name,
        since_ms,
        viewer.city,
        viewer.country_code,
        viewer.browser,
        viewer.os,
        viewer.device,
    ]
    return json.dumps(card, separators=(",", ":"), ensure_ascii=False)


def decode_viewer(session_id: str, card: str) -> Viewer:
    user_id, name, since_ms, city, country_code, browser, os, device = json.loads(card)
    return Viewer(
        user_id=user_id,
        name=name,
        session_id=session_id,
        since=datetime.fromtimestamp(since_ms / 1000, UTC),
        city=city,
        country_code=country_code,
        browser=browser,
        os=os,
        device=device,
    )


class RedisPresence:
    """The PresenceStore of a cluster of nodes; every change is one round trip (a MULTI)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    async def add(self, breakout_id: str, viewer: Viewer) -> int:
        key = presence_key(breakout_id)
        since_ms = int(viewer.since.timestamp() * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, viewer.session_id, encode_viewer(viewer))
            pipe.zadd(devices_key(breakout_id, viewer.user_id), {viewer.session_id: since_ms})
            pipe.hlen(key)
            *_, count = await pipe.execute()
        return int(count)

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        key = presence_key(breakout_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(key, session_id)
            pipe.zrem(devices_key(breakout_id, user_id), session_id)
            pipe.hlen(key)
            *_, count = await pipe.execute()
        return int(count)

    async def user_sessions(self, breakout_id: str, user_id: str) -> list[str]:
        members = await self._redis.zrange(devices_key(breakout_id, user_id), 0, -1)
        return [_text(member) for member in members if isinstance(member, bytes | str)]

    async def count(self, breakout_id: str) -> int:
        return int(await self._redis.hlen(presence_key(breakout_id)))

    async def viewers(self, breakout_id: str) -> list[Viewer]:
        cards = await self._redis.hgetall(presence_key(breakout_id))
        viewers = [decode_viewer(_text(field), _text(card)) for field, card in cards.items()]
        return sorted(viewers, key=lambda viewer: viewer.since)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
