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

from models.live.presence import Added, Viewer

# Short keys: with tens of thousands of live viewers every byte of key repeats.
_KEY_PREFIX = "p:"
_DEVICES_PREFIX = "d:"
_PREFIXES = (_KEY_PREFIX, _DEVICES_PREFIX)


def connect_redis(url: str, pool_size: int) -> redis.Redis:
    """A client whose callers wait for a free connection instead of failing in a join storm."""
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=10)
    return redis.Redis.from_pool(pool)  # owns the pool: aclose() closes its connections


def presence_key(breakout_id: str) -> str:
    return _KEY_PREFIX + breakout_id


def devices_key(breakout_id: str) -> str:
    """One hash per breakout: user id -> that user's live sessions, "sessionId:sinceMs ..."."""
    return _DEVICES_PREFIX + breakout_id


# Every change of a batch is applied by one script call, in order, each atomically: a join
# storm costs Redis one command and the client one reply to read, not one per change. The
# changes travel as one JSON argument, the key prefixes as two more:
#   ["a", breakoutId, sessionId, card, userId, sinceMs] -> {viewer count, the user's devices}
#   ["r", breakoutId, sessionId, userId]                -> viewer count
# The script builds its keys from the breakout ids, so the store needs one Redis server (or a
# primary), not Redis Cluster. The device entry of a user is a short list (one session for most
# users), so it lives in a hash field instead of a key of its own: a key per session would cost
# more than the viewer card.
_APPLY = """
local results = {}
for i, op in ipairs(cjson.decode(ARGV[1])) do
  local viewers = ARGV[2] .. op[2]
  local devices = ARGV[3] .. op[2]
  local session = op[3]
  local user
  local listed
  if op[1] == 'a' then
    user = op[5]
    redis.call('HSET', viewers, session, op[4])
    local entry = session .. ':' .. op[6]
    listed = redis.call('HGET', devices, user)
    if not listed then
      listed = entry
      redis.call('HSET', devices, user, listed)
    elseif not string.find(' ' .. listed .. ' ', ' ' .. entry .. ' ', 1, true) then
      listed = listed .. ' ' .. entry
      redis.call('HSET', devices, user, listed)
    end
    results[i] = {redis.call('HLEN', viewers), listed}
  else
    user = op[4]
    redis.call('HDEL', viewers, session)
    listed = redis.call('HGET', devices, user)
    if listed then
      local kept = {}
      for entry in string.gmatch(listed, '%S+') do
        if string.sub(entry, 1, string.len(session) + 1) ~= session .. ':' then
          table.insert(kept, entry)
        end
      end
      if #kept == 0 then
        redis.call('HDEL', devices, user)
      else
        redis.call('HSET', devices, user, table.concat(kept, ' '))
      end
    end
    results[i] = redis.call('HLEN', viewers)
  end
end
return results
"""
_APPLY_SHA = hashlib.sha1(_APPLY.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1


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
    op: list[str]
    done: asyncio.Future[Any]


class RedisPresence:
    """The PresenceStore of a cluster of nodes; every change is atomic.

    Changes are batched: those made while a batch is on its way go together in the next one,
    a single script call. A join storm, or ten thousand sockets dropping at once, costs a few
    round trips and one pooled connection instead of one each (which emptied the pool and
    timed out)."""

    def __init__(self, client: redis.Redis, batch_max: int = 1000) -> None:
        self._redis = client
        self._batch_max = batch_max
        self._pending: list[_Change] = []
        self._sender: asyncio.Task[None] | None = None

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        since_ms = str(int(viewer.since.timestamp() * 1000))
        op = ["a", breakout_id, viewer.session_id, encode_viewer(viewer), viewer.user_id, since_ms]
        count, listed = await self._change(op)
        entries = [entry.rpartition(":") for entry in _text(listed).split()]
        oldest_first = sorted(entries, key=lambda entry: (int(entry[2]), entry[0]))
        return Added(int(count), tuple(session for session, _, _ in oldest_first))

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        return int(await self._change(["r", breakout_id, session_id, user_id]))

    async def _change(self, op: list[str]) -> Any:
        change = _Change(op, asyncio.get_running_loop().create_future())
        self._pending.append(change)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_pending(), name="presence-changes")
        # A caller that goes away cancels only its future, not the change.
        return await change.done

    async def _send_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._batch_max]
            del self._pending[: self._batch_max]
            try:
                results = await self._apply([change.op for change in batch])
            except Exception as exc:  # the callers learn of it; the next batch tries again
                for change in batch:
                    if not change.done.done():
                        change.done.set_exception(exc)
                continue
            for change, result in zip(batch, results, strict=True):
                if not change.done.done():
                    change.done.set_result(result)

    async def _apply(self, ops: list[list[str]]) -> list[Any]:
        args = (json.dumps(ops, separators=(",", ":"), ensure_ascii=False), *_PREFIXES)
        try:
            results: list[Any] = await self._redis.evalsha(_APPLY_SHA, 0, *args)
        except NoScriptError:
            # A restarted or flushed Redis forgot the script (nothing of the batch was applied):
            # load it and send the batch again.
            await self._redis.script_load(_APPLY)
            results = await self._redis.evalsha(_APPLY_SHA, 0, *args)
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
