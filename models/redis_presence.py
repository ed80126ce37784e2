"""Live presence in Redis, shared by every node: one small hash of viewer cards per breakout."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as redis
from redis.exceptions import NoScriptError

from models.presence import Added, Viewer

# Short keys: with tens of thousands of live viewers every byte of key repeats.
_KEY_PREFIX = "p:"


def connect_redis(url: str, pool_size: int) -> redis.Redis:
    """A client whose callers wait for a free connection instead of failing in a join storm."""
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=10)
    return redis.Redis.from_pool(pool)  # owns the pool: aclose() closes its connections


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


_SHA = {script: hashlib.sha1(script.encode()).hexdigest() for script in (_ADD, _REMOVE)}  # noqa: S324 - Redis names scripts by SHA-1


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


@dataclass(slots=True)
class _Change:
    script: str
    keys: list[str]
    args: list[str | int]
    done: asyncio.Future[Any]


class RedisPresence:
    """The PresenceStore of a cluster of nodes; every change is one atomic script.

    Changes are pipelined: those made while a pipeline is on its way go together in the next
    one. A join storm, or ten thousand sockets dropping at once, costs a few round trips and
    one pooled connection instead of one each (which emptied the pool and timed out)."""

    def __init__(self, client: redis.Redis, batch_max: int = 1000) -> None:
        self._redis = client
        self._batch_max = batch_max
        self._pending: list[_Change] = []
        self._sender: asyncio.Task[None] | None = None

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        since_ms = int(viewer.since.timestamp() * 1000)
        keys = [presence_key(breakout_id), devices_key(breakout_id)]
        args: list[str | int] = [viewer.session_id, encode_viewer(viewer), viewer.user_id, since_ms]
        count, listed = await self._change(_ADD, keys, args)
        entries = [entry.rpartition(":") for entry in _text(listed).split()]
        oldest_first = sorted(entries, key=lambda entry: (int(entry[2]), entry[0]))
        return Added(int(count), tuple(session for session, _, _ in oldest_first))

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        keys = [presence_key(breakout_id), devices_key(breakout_id)]
        return int(await self._change(_REMOVE, keys, [session_id, user_id]))

    async def _change(self, script: str, keys: list[str], args: list[str | int]) -> Any:
        change = _Change(script, keys, args, asyncio.get_running_loop().create_future())
        self._pending.append(change)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_pending(), name="presence-pipeline")
        return await asyncio.shield(change.done)

    async def _send_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._batch_max]
            del self._pending[: self._batch_max]
            try:
                results = await self._run(batch)
            except Exception as exc:  # the callers learn of it; the next batch tries again
                results = [exc] * len(batch)
            for change, result in zip(batch, results, strict=True):
                if change.done.done():
                    continue
                if isinstance(result, BaseException):
                    change.done.set_exception(result)
                else:
                    change.done.set_result(result)

    async def _run(self, batch: list[_Change], *, reload: bool = True) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipeline:
            for change in batch:
                pipeline.evalsha(_SHA[change.script], len(change.keys), *change.keys, *change.args)
            results: list[Any] = await pipeline.execute(raise_on_error=False)
        if reload and any(isinstance(result, NoScriptError) for result in results):
            # A restarted or flushed Redis forgot the scripts: load them, send those again.
            for script in _SHA:
                await self._redis.script_load(script)
            retry = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
            again = await self._run([batch[i] for i in retry], reload=False)
            for i, result in zip(retry, again, strict=True):
                results[i] = result
        return results

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
