"""Redis goes away and comes back under traffic on two nodes (a real redis-server, stopped)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from models.domain.records import Role
from server.embedded.redis import redis_server_binary
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer, free_port


class RedisProcess:
    """A redis-server without persistence on a fixed port, to stop, pause and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                str(redis_server_binary()),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        for _ in range(100):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def pause(self, paused: bool) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path)
    process.start()
    try:
        yield process
    finally:
        if process.process is not None:
            process.pause(False)
        process.stop()


async def readiness(http: aiohttp.ClientSession, server: RunningServer) -> Any:
    async with http.get(f"{server.url}/readyz") as response:
        assert response.status == 200
        return await response.json()


async def shown(host: Any, breakout: str) -> set[str] | None:
    ack = await host.call("watch-breakout", {"breakoutId": breakout})
    return {v["sessionId"] for v in ack["viewers"]} if ack["ok"] else None


async def becomes(check: Any, wanted: Any, timeout_s: float = 10) -> None:
    for _ in range(int(timeout_s * 10)):
        if await check() == wanted:
            return
        await asyncio.sleep(0.1)
    assert await check() == wanted


async def test_redis_paused_then_restarted_empty_under_traffic(
    make_server: Any,
    connect: Any,
    http: aiohttp.ClientSession,
    redis_process: RedisProcess,
) -> None:
    await redis_process.ready()
    cluster = {
        "redis_url": redis_process.url,
        "heartbeat_interval_s": 0.5,
        "heartbeat_ttl_s": 2,
        "reconnect_grace_s": 0,
    }
    node_a, node_b = await make_server(**cluster), await make_server(**cluster)
    breakout = new_breakout_id()
    host = await connect(node_b, node_b.token("h", role=Role.HOST))
    early = await connect(node_a, node_a.token("early"))
    leaver = await connect(node_a, node_a.token("leaver"))
    first = await early.call("join-chat-room", {"breakoutId": breakout})
    await leaver.call("join-chat-room", {"breakoutId": breakout})
    await asyncio.sleep(3)  # both nodes have beaten for longer than the TTL

    # Paused for longer than the TTL: when it answers again every beat is stale at once.
    redis_process.pause(True)
    await asyncio.sleep(3)
    redis_process.pause(False)
    await asyncio.sleep(2)
    assert (await node_a.session_row(first["sessionId"]))["exit_ts"] is None  # nobody reaped

    # Stopped for 10 s, under traffic on both nodes, then started again, empty.
    redis_process.stop()
    during = {
        "a": await connect(node_a, node_a.token("during-a")),
        "b": await connect(node_b, node_b.token("during-b")),
    }
    acks = [
        await viewer.call("join-chat-room", {"breakoutId": breakout}) for viewer in during.values()
    ]
    left = await leaver.call("leave-chat-room", {"breakoutId": breakout})
    assert all(ack["ok"] for ack in [*acks, left]), (acks, left)
    state = await readiness(http, node_a)
    assert state["status"] == "degraded" and state["redis"] == "unreachable"
    assert (await host.call("watch-breakout", {"breakoutId": breakout}))["error"]["code"] == (
        "unavailable"
    )
    await asyncio.sleep(8)
    redis_process.start()
    await redis_process.ready()

    # Each node puts its own viewers back; nobody rejoined.
    wanted = {first["sessionId"], *(ack["sessionId"] for ack in acks)}
    await becomes(lambda: shown(host, breakout), wanted)
    for node in (node_a, node_b):
        await becomes(lambda node=node: readiness(http, node), {"status": "ready"})
    for session_id in wanted:
        assert (await node_a.session_row(session_id))["exit_ts"] is None
    assert (await node_a.session_row(left["sessionId"]))["exit_reason"] == "leave"
    # Device lists are back too: the default limit of 1 expels the older tab of a user.
    second_tab = await connect(node_b, node_b.token("early"))
    await second_tab.call("join-chat-room", {"breakoutId": breakout})
    assert await early.next("playback", 10) == "device-limit-exceeded"
