"""One contract, two stores: this process's memory and Redis (real redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import redis.asyncio as redis

from models.domain.errors import Unavailable
from models.live.presence import (
    Added,
    Away,
    KeptPresence,
    MemoryPresence,
    PresenceStore,
    Viewer,
)
from models.live.redis_presence import RedisPresence, connect_redis
from tests.support.records import new_breakout_id

T0 = datetime(2026, 11, 21, 9, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[PresenceStore]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    client = redis.from_url(redis_url)
    try:
        yield RedisPresence(client)
    finally:
        await client.aclose()


def viewer(number: int, *, name: str = "Ada", minutes: int = 0) -> Viewer:
    return Viewer(
        user_id=f"u{number}",
        name=name,
        session_id=f"s{number}",
        since=T0 + timedelta(minutes=minutes),
        city="London" if number % 2 else None,
        country_code="GB",
        browser="Chrome",
        os="Mac OS X",
        device="desktop",
    )


async def test_add_and_remove_report_the_count(store: PresenceStore) -> None:
    breakout = new_breakout_id()
    assert await store.add(breakout, viewer(1)) == Added(1, ("s1",))
    assert await store.add(breakout, viewer(2)) == Added(2, ("s2",))
    # The same session again: no double count, no second device.
    assert await store.add(breakout, viewer(2)) == Added(2, ("s2",), new=False)
    assert await store.remove(breakout, "u1", "s1") == 1
    assert await store.remove(breakout, "u1", "s1") == 1  # absent: fine
    assert await store.counts([breakout]) == [1]
    assert await store.remove(breakout, "u2", "s2") == 0
    assert await store.viewers(breakout) == []


async def test_viewers_come_back_whole_and_in_arrival_order(store: PresenceStore) -> None:
    breakout = new_breakout_id()
    late, early = viewer(1, name="Zoë ünïcödé 李", minutes=5), viewer(2, minutes=1)
    await store.add(breakout, late)
    await store.add(breakout, early)
    assert await store.viewers(breakout) == [early, late]


async def test_breakouts_are_independent(store: PresenceStore) -> None:
    one, two = new_breakout_id(), new_breakout_id()
    await store.add(one, viewer(1))
    assert await store.counts([two]) == [0]
    assert await store.remove(two, "u1", "s1") == 0
    assert await store.counts([one, two, one]) == [1, 0, 1]
    assert await store.counts([]) == []


async def test_a_users_sessions_are_listed_oldest_first(store: PresenceStore) -> None:
    breakout = new_breakout_id()
    newest = replace(viewer(1, minutes=9), session_id="s-new")
    oldest = replace(viewer(1, minutes=1), session_id="s-old")
    other_user = viewer(2)
    for each in (newest, other_user):
        await store.add(breakout, each)
    assert (await store.add(breakout, oldest)).user_sessions == ("s-old", "s-new")
    await store.remove(breakout, "u1", "s-old")
    assert (await store.add(breakout, newest)).user_sessions == ("s-new",)
    assert (await store.add(new_breakout_id(), oldest)).user_sessions == ("s-old",)


async def test_redis_presence_pipelines_a_storm_and_survives_a_flushed_redis(
    redis_url: str,
) -> None:
    """Thousands of concurrent changes share pipelines (a pool of 2 connections is plenty), and
    scripts Redis forgot (restart, SCRIPT FLUSH) are loaded again."""
    client = connect_redis(redis_url, pool_size=2)
    store = RedisPresence(client)
    breakout = new_breakout_id()
    try:
        await client.script_flush()
        added = await asyncio.gather(*(store.add(breakout, viewer(n)) for n in range(3000)))
        assert max(result.count for result in added) == 3000
        assert await store.counts([breakout]) == [3000]
        removed = await asyncio.gather(
            *(store.remove(breakout, f"u{n}", f"s{n}") for n in range(3000))
        )
        assert min(removed) == 0 and await store.counts([breakout]) == [0]
    finally:
        await client.aclose()


async def test_an_away_viewer_is_kept_until_its_window_runs_out(store: PresenceStore) -> None:
    """Its card stays (counted, shown away since it was last heard); the sweep removes it once
    the window is over, and returns it once."""
    breakout = new_breakout_id()
    await store.add(breakout, viewer(1))
    await store.add(breakout, viewer(2))
    left = T0 + timedelta(minutes=5)
    assert await store.mark_away(Away(breakout, "u1", "s1", left), T0 + timedelta(minutes=6)) == 2

    shown = {v.session_id: v.away_since for v in await store.viewers(breakout)}
    assert shown == {"s1": left, "s2": None}
    assert await store.sweep_away(T0 + timedelta(minutes=5, seconds=59)) == []
    assert await store.sweep_away(T0 + timedelta(minutes=6)) == [Away(breakout, "u1", "s1", left)]
    assert await store.sweep_away(T0 + timedelta(minutes=7)) == []
    assert [v.session_id for v in await store.viewers(breakout)] == ["s2"]
    assert (await store.add(breakout, viewer(1))).user_sessions == ("s1",)  # no device left over


async def test_a_viewer_back_within_its_window_is_shown_again_and_never_swept(
    store: PresenceStore,
) -> None:
    breakout = new_breakout_id()
    await store.add(breakout, viewer(1))
    await store.mark_away(Away(breakout, "u1", "s1", T0), T0 + timedelta(minutes=1))

    assert await store.add(breakout, viewer(1)) == Added(1, ("s1",), new=False)
    assert [v.away_since for v in await store.viewers(breakout)] == [None]
    assert await store.sweep_away(T0 + timedelta(minutes=2)) == []
    assert await store.counts([breakout]) == [1]


class Flaky:
    """A store that can be switched off (Redis away) or emptied (Redis restarted empty)."""

    def __init__(self) -> None:
        self.inner = MemoryPresence()
        self.down = False
        self.emptied = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any) -> Any:
            if self.down:
                raise ConnectionError("redis is away")
            return await method(*args)

        return call

    async def lost(self) -> bool:
        if self.down:
            raise ConnectionError("redis is away")
        emptied, self.emptied = self.emptied, False
        return emptied


async def test_kept_presence_records_through_an_outage_and_puts_viewers_back() -> None:
    flaky = Flaky()
    kept = KeptPresence(cast(PresenceStore, flaky), flaky.lost)
    breakout = new_breakout_id()
    await kept.add(breakout, viewer(1))
    flaky.down = True

    assert (await kept.add(breakout, viewer(2))).user_sessions == ("s2",)  # no exception
    assert await kept.remove(breakout, "u1", "s1") == 1
    assert kept.degraded
    with pytest.raises(Unavailable):
        await kept.viewers(breakout)
    with pytest.raises(ConnectionError):
        await kept.restore(T0)  # still away: the loop tries again

    flaky.down = False
    assert await kept.restore(T0) == 1
    assert [v.session_id for v in await kept.viewers(breakout)] == ["s2"]
    assert not kept.degraded

    flaky.inner = MemoryPresence()  # restarted empty
    flaky.emptied = True
    assert await kept.restore(T0) == 1
    assert [v.session_id for v in await kept.viewers(breakout)] == ["s2"]
    assert await kept.restore(T0) == 0  # nothing to do
