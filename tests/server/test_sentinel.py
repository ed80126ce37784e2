"""A `redis+sentinel://` REDIS_URL against a real Sentinel on loopback: two servers find the
master through it, share presence there, and fan out through it."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis

from models.domain.records import Role
from server.embedded.redis import EmbeddedRedis, redis_server_binary
from tests.conftest import ServerFactory
from tests.support.records import new_breakout_id
from tests.support.servers import free_port

SERVICE = "attendance"


@pytest.fixture
def sentinel_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A Redis master and one Sentinel watching it: (the sentinel URL, the master's URL)."""
    master = EmbeddedRedis(tmp_path / "master")
    master_url = master.start().url
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {master_url.rsplit(':', 1)[1].split('/')[0]} 1\n"
    )
    sentinel = subprocess.Popen(  # noqa: S603 - the Redis binary the tests already use
        [str(redis_server_binary()), str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"redis+sentinel://127.0.0.1:{port}/0/{SERVICE}", master_url
    finally:
        sentinel.terminate()
        sentinel.wait(timeout=10)
        master.stop()


async def wait_for_sentinel(url: str) -> None:
    port = int(url.split("//")[1].split("/")[0].split(":")[1])
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(100):
            try:
                if await client.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE):
                    return
            except redis.ConnectionError:
                pass
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    raise AssertionError("the sentinel did not come up")


async def test_servers_share_presence_through_a_sentinel_managed_master(
    sentinel_url: tuple[str, str],
    make_server: ServerFactory,
    connect: Any,
    http: aiohttp.ClientSession,
) -> None:
    url, master_url = sentinel_url
    await wait_for_sentinel(url)
    a = await make_server(redis_url=url)
    b = await make_server(redis_url=url)
    breakout = new_breakout_id()
    host = await connect(b, b.token("host", role=Role.HOST))
    watched = await host.call("watch-breakout", {"breakoutId": breakout})
    assert watched["ok"] is True

    viewer = await connect(a, a.token("u1"))
    joined = await viewer.call("join-chat-room", {"breakoutId": breakout})
    assert joined["ok"] is True

    # Presence kept in the master the sentinel names, read by the other server...
    token = b.token("host", role=Role.HOST)
    async with http.get(
        f"{b.url}/api/breakouts/{breakout}/presence",
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        body = await response.json()
        assert response.status == 200, body
        assert body["data"]["count"] == 1
    master = redis.from_url(master_url)
    try:
        assert await master.keys("p:*")
    finally:
        await master.aclose()
    # ...and the join reaches the host on the other server through the fan-out.
    diff = await host.next("presence-diff", timeout_s=5)
    assert [v["userId"] for v in diff["joins"]] == ["u1"]
