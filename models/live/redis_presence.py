"""Live presence in Redis, shared by every node: one small hash of viewer cards per breakout."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import NoScriptError

from models.live.presence import Added, Away, Viewer

# Short keys: with tens of thousands of live viewers every byte of key repeats.
_KEY_PREFIX = "p:"
_DEVICES_PREFIX = "d:"
_AWAY_PREFIX = "w:"
# One sorted set for the whole cluster: "place\nsession\nuser" by the end of its window (ms).
_AWAY_DUE_KEY = "away"
# One hash per breakout: session id -> "state sinceMs", what its client last said it does.
_ACTIVITY_PREFIX = "s:"
_KEYS = (_KEY_PREFIX, _DEVICES_PREFIX, _AWAY_PREFIX, _AWAY_DUE_KEY, _ACTIVITY_PREFIX)
SWEEP_MAX = 1000
# One key per store (per process), renewed at each look: gone means Redis lost our viewers.
_MARKER_PREFIX = "m:"
_MARKER_TTL_S = 86_400


# A command Redis does not answer within this fails (a paused or partitioned Redis must not
# hold joins); the bus's subscription blocks on reads regardless.
REDIS_TIMEOUT_S = 2.0


def connect_redis(url: str, pool_size: int) -> redis.Redis:
    """A client whose callers wait for a free connection instead of failing in a join storm;
    with a `redis+sentinel://` URL, the client of the master its sentinels name."""
    if urlsplit(url).scheme == "redis+sentinel":
        return _sentinel_master(url)
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=10,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    return redis.Redis.from_pool(pool)  # owns the pool: aclose() closes its connections


def _sentinel_master(url: str) -> redis.Redis:
    """`redis+sentinel://[user:password@]host:port[,host:port...]/db/service`, the form
    python-socketio's manager reads too: the service's master, found again through the
    sentinels after a failover."""
    parts = urlsplit(url)
    _, _, hosts = parts.netloc.rpartition("@")
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        sentinels.append((name, int(port)) if name else (port, 26379))
    path = [part for part in parts.path.split("/") if part]
    if len(path) != 2 or not path[0].isdigit():
        raise ValueError("a redis+sentinel URL ends in /db/service, e.g. /0/mymaster")
    credentials = {"username": parts.username, "password": parts.password}
    timeouts = {"socket_timeout": REDIS_TIMEOUT_S, "socket_connect_timeout": REDIS_TIMEOUT_S}
    sentinel = Sentinel(sentinels, sentinel_kwargs=timeouts, **credentials, **timeouts)  # type: ignore[no-untyped-call]
    master: redis.Redis = sentinel.master_for(path[1], db=int(path[0]))
    return master


async def redis_answers(client: redis.Redis, timeout_s: float) -> bool:
    """Whether Redis answers a PING within `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await client.ping())
    except Exception:  # any failure means "not reachable"
        return False


def presence_key(breakout_id: str) -> str:
    return _KEY_PREFIX + breakout_id


def devices_key(breakout_id: str) -> str:
    """One hash per breakout: user id -> that user's live sessions, "sessionId:sinceMs ..."."""
    return _DEVICES_PREFIX + breakout_id


# Every change of a batch is applied by one script call, in order, each atomically: a join
# storm costs Redis one command and the client one reply to read, not one per change. The
# changes travel as one JSON argument, the key name prefixes as five more:
#   ["a", breakoutId, sessionId, card, userId, sinceMs] -> {count, the user's devices, new}
#   ["r", breakoutId, sessionId, userId]                -> viewer count
#   ["m", breakoutId, sessionId, userId, awaySinceMs, untilMs] -> viewer count
#   ["s", nowMs, limit] -> the viewers still away whose time ran out, removed:
#                          {{breakoutId, sessionId, userId, awaySinceMs}, ...}
#   ["t", breakoutId, sessionId, state, sinceMs] -> 1 if the viewer is shown (and noted), else 0
# The script builds its keys from the breakout ids, so the store needs one Redis server (or a
# primary), not Redis Cluster. The device entry of a user is a short list (one session for most
# users), so it lives in a hash field instead of a key of its own: a key per session would cost
# more than the viewer card. A viewer away (its connection lost, its client may resume) keeps
# its card; the breakout's hash of away viewers says since when, and one sorted set for the
# cluster says until when: the sweep (any node, each entry once) removes those still away.
_APPLY = """
local function remove(breakout, session, user)
  local viewers = ARGV[2] .. breakout
  local devices = ARGV[3] .. breakout
  redis.call('HDEL', viewers, session)
  redis.call('HDEL', ARGV[4] .. breakout, session)
  redis.call('HDEL', ARGV[6] .. breakout, session)
  local listed = redis.call('HGET', devices, user)
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
  return redis.call('HLEN', viewers)
end

local results = {}
for i, op in ipairs(cjson.decode(ARGV[1])) do
  if op[1] == 'a' then
    local viewers = ARGV[2] .. op[2]
    local devices = ARGV[3] .. op[2]
    local session = op[3]
    local user = op[5]
    local new = redis.call('HSET', viewers, session, op[4])
    redis.call('HDEL', ARGV[4] .. op[2], session)
    redis.call('HDEL', ARGV[6] .. op[2], session)
    local entry = session .. ':' .. op[6]
    local listed = redis.call('HGET', devices, user)
    if not listed then
      listed = entry
      redis.call('HSET', devices, user, listed)
    elseif not string.find(' ' .. listed .. ' ', ' ' .. entry .. ' ', 1, true) then
      listed = listed .. ' ' .. entry
      redis.call('HSET', devices, user, listed)
    end
    results[i] = {redis.call('HLEN', viewers), listed, new}
  elseif op[1] == 'r' then
    results[i] = remove(op[2], op[3], op[4])
  elseif op[1] == 'm' then
    local viewers = ARGV[2] .. op[2]
    if redis.call('HEXISTS', viewers, op[3]) == 1 then
      redis.call('HSET', ARGV[4] .. op[2], op[3], op[5])
      redis.call('ZADD', ARGV[5], op[6], op[2] .. '\\n' .. op[3] .. '\\n' .. op[4])
    end
    results[i] = redis.call('HLEN', viewers)
  elseif op[1] == 't' then
    if redis.call('HEXISTS', ARGV[2] .. op[2], op[3]) == 1 then
      redis.call('HSET', ARGV[6] .. op[2], op[3], op[4] .. ' ' .. op[5])
      results[i] = 1
    else
      results[i] = 0
    end
  else
    local gone = {}
    local due = redis.call('ZRANGEBYSCORE', ARGV[5], '-inf', op[2], 'LIMIT', 0, op[3])
    for _, member in ipairs(due) do
      redis.call('ZREM', ARGV[5], member)
      local breakout, session, user = string.match(member, '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
      local since = redis.call('HGET', ARGV[4] .. breakout, session)
      if since then
        remove(breakout, session, user)
        table.insert(gone, {breakout, session, user, since})
      end
    end
    results[i] = gone
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


def decode_viewer(
    session_id: str, card: str, away_since: datetime | None = None, activity: str | None = None
) -> Viewer:
    """A viewer from its card, its away mark and its activity ("state sinceMs")."""
    user_id, name, since_ms, city, country_code, browser, os, device = json.loads(card)
    state, _, activity_ms = (activity or "").partition(" ")
    return Viewer(
        away_since=away_since,
        activity=state or None,
        activity_since=_from_ms(activity_ms) if activity_ms else None,
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
        self._marker = _MARKER_PREFIX + secrets.token_hex(8)
        self._batch_max = batch_max
        self._pending: list[_Change] = []
        self._sender: asyncio.Task[None] | None = None

    async def add(self, breakout_id: str, viewer: Viewer) -> Added:
        since_ms = str(int(viewer.since.timestamp() * 1000))
        op = ["a", breakout_id, viewer.session_id, encode_viewer(viewer), viewer.user_id, since_ms]
        count, listed, new = await self._change(op)
        entries = [entry.rpartition(":") for entry in _text(listed).split()]
        oldest_first = sorted(entries, key=lambda entry: (int(entry[2]), entry[0]))
        return Added(int(count), tuple(session for session, _, _ in oldest_first), bool(new))

    async def remove(self, breakout_id: str, user_id: str, session_id: str) -> int:
        return int(await self._change(["r", breakout_id, session_id, user_id]))

    async def mark_away(self, away: Away, until: datetime) -> int:
        op = ["m", away.place, away.session_id, away.user_id, _ms(away.since), _ms(until)]
        return int(await self._change(op))

    async def sweep_away(self, now: datetime) -> list[Away]:
        gone = await self._change(["s", _ms(now), str(SWEEP_MAX)])
        return [
            Away(_text(place), _text(user), _text(session), _from_ms(_text(since)))
            for place, session, user, since in gone
        ]

    async def set_activity(
        self, breakout_id: str, session_id: str, activity: str, since: datetime
    ) -> None:
        await self._change(["t", breakout_id, session_id, activity, _ms(since)])

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
        args = (json.dumps(ops, separators=(",", ":"), ensure_ascii=False), *_KEYS)
        try:
            results: list[Any] = await self._redis.evalsha(_APPLY_SHA, 0, *args)
        except NoScriptError:
            # A restarted or flushed Redis forgot the script (nothing of the batch was applied):
            # load it and send the batch again.
            await self._redis.script_load(_APPLY)
            results = await self._redis.evalsha(_APPLY_SHA, 0, *args)
        return results

    async def lost(self) -> bool:
        """Whether Redis forgot what this store put in it since the last look (restarted empty,
        or flushed): a key of this store's own says so by being gone. The first look is True."""
        previous = await self._redis.set(self._marker, "1", ex=_MARKER_TTL_S, get=True)
        return previous is None

    async def counts(self, breakout_ids: Sequence[str]) -> list[int]:
        async with self._redis.pipeline(transaction=False) as pipeline:
            for breakout_id in breakout_ids:
                pipeline.hlen(presence_key(breakout_id))
            return [int(count) for count in await pipeline.execute()]

    async def viewers(self, breakout_id: str) -> list[Viewer]:
        async with self._redis.pipeline(transaction=True) as pipeline:
            pipeline.hgetall(presence_key(breakout_id))
            pipeline.hgetall(_AWAY_PREFIX + breakout_id)
            pipeline.hgetall(_ACTIVITY_PREFIX + breakout_id)
            cards, away, activity = await pipeline.execute()
        away_since = {_text(session): _from_ms(_text(ms)) for session, ms in away.items()}
        doing = {_text(session): _text(noted) for session, noted in activity.items()}
        viewers = [
            decode_viewer(
                _text(field), _text(card), away_since.get(_text(field)), doing.get(_text(field))
            )
            for field, card in cards.items()
        ]
        return sorted(viewers, key=lambda viewer: viewer.since)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _from_ms(ms: str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)
