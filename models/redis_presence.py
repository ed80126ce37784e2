"""Live presence in Redis, shared by every node: one small hash of viewer cards per breakout."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import redis.asyncio as redis

from models.presence import Added, Viewer

# Short keys: with tens of thousands of live viewers every byte of key repeats.
_KEY_PREFIX = "p:"


def connect_redis(url: str, pool_size: int) -> redis.Redis:
    """A client whose callers wait for a free connection instead of failing in a join storm."""
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=10)
    return redis.Redis(connection_pool=pool)


def presence_key(breakout_id: str) -> str:
    return _KEY_PREFIX + breakout_id


def devices_key(breakout_id: str) -> str:
    """One hash per breakout: user id -> that user's live sessions, "sessionId:sinceMs ..."."""
    return "d:" + breakout_id


# Both hashes change in one atomic step. The device entry of a user is a short list (one
# session for most users), so it lives in a hash field instead of a key of its own: a key per
# session would cost more than the viewer card.
_ADD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local entry = ARGV[1] .. ':' .. ARGV[4]
local listed = redis.call('HGET', KEYS[2], ARGV[3])
if not listed then
  listed = entry
  redis.call('HSET', KEYS[2], ARGV[3], listed)
elseif not string.find(' ' .. listed .. ' ', ' ' .. entry .. ' ', 1, true) then
  listed = listed .. ' ' .. entry
  redis.call('HSET', KEYS[2], ARGV[3], listed)
end
return {redis.call('HLEN', KEYS[1]), listed}
"""

_REMOVE = """
redis.call('HDEL', KEYS[1], ARGV[1])
local listed = redis.call('HGET', KEYS[2], ARGV[2])
if listed then
  local kept = {}
  for entry in string.gmatch(listed, '%S+') do
    if string.sub(entry, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. ':' then
      table.insert(kept, entry)
    end
  end
  if #kept == 0 then
    redis.call('HDEL', KEYS[2], ARGV[2])
  else
    redis.call('HSET', KEYS[2], ARGV[2], table.concat(kept, ' '))
  end
end
return redis.call('HLEN', KEYS[1])
"""


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
    """The PresenceStore of a cluster of nodes; every change is one round trip (a script)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._add = client.register_script(_ADD)
        self._remove = client.register_script(_REMOVE)

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        since_ms = int(viewer.since.timestamp() * 1000)
        keys = [presence_key(breakout_id), devices_key(breakout_id)]
        args: list[str | int] = [viewer.session_id, encode_viewer(viewer), viewer.user_id, since_ms]
        count, listed = await self._add(keys=keys, args=args)
        entries = [entry.rpartition(":") for entry in _text(listed).split()]
        oldest_first = sorted(entries, key=lambda entry: (int(entry[2]), entry[0]))
        return Added(int(count), tuple(session for session, _, _ in oldest_first))

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        keys = [presence_key(breakout_id), devices_key(breakout_id)]
        return int(await self._remove(keys=keys, args=[session_id, user_id]))

    async def counts(self, breakout_ids: Sequence[str]) -> list[int]:
        async with self._redis.pipeline(transaction=False) as pipeline:
            for breakout_id in breakout_ids:
                pipeline.hlen(presence_key(breakout_id))
            return [int(count) for count in await pipeline.execute()]

    async def viewers(self, breakout_id: str) -> list[Viewer]:
        cards = await self._redis.hgetall(presence_key(breakout_id))
        viewers = [decode_viewer(_text(field), _text(card)) for field, card in cards.items()]
        return sorted(viewers, key=lambda viewer: viewer.since)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
