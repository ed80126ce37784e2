"""Commands run beside a server in the same folder never take its embedded PostgreSQL away, and a
server whose embedded PostgreSQL dies starts it again (issue 13, B4)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from server.embedded.postgres import EmbeddedPostgres
from tests.support.records import new_breakout_id
from tests.support.servers import ROOT, TEST_SECRET, free_port, open_directory, serving, stop


def run_py(var_dir: Path, *args: str, port: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAR_DIR": str(var_dir), "AUTH_SECRET": TEST_SECRET}
    env.pop("DATABASE_URL", None)
    if port is not None:
        env["PORT"] = str(port)
    return subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def ready(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as response:
        return str((await response.json(content_type=None)).get("status"))


async def joins(url: str, token: str) -> bool:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    try:
        ack = await client.call("join-chat-room", {"breakoutId": new_breakout_id()}, timeout=10)
    finally:
        await client.disconnect()
    return bool(ack.get("ok"))


@pytest.fixture
def var_dir() -> Iterator[Path]:
    with open_directory("attendance-beside-") as root:
        yield root / "var"


async def test_commands_beside_a_server_leave_its_embedded_database_running(
    var_dir: Path,
) -> None:
    async with serving({"DATABASE_URL": ""}, var_dir, "serve") as (process, url):
        token = run_py(
            var_dir, "token", "--user", "u1", "--name", "Ada", "--role", "attendee", "--org", "o1"
        ).stdout.strip()
        for command in (["migrate"], ["purge", "--older-than", "3650"]):
            done = await asyncio.to_thread(run_py, var_dir, *command)
            assert done.returncode == 0, done.stderr
        second = await asyncio.to_thread(run_py, var_dir, "serve", port=free_port())
        assert second.returncode == 2 and "JOURNAL_DIR" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr

        assert await ready(url) == "ready"
        assert await joins(url, token)
        await stop(process)


async def test_a_server_starts_its_embedded_database_again_when_it_dies(var_dir: Path) -> None:
    async with serving({"DATABASE_URL": ""}, var_dir, "serve") as (process, url):
        running = EmbeddedPostgres(var_dir / "pg").running()
        assert running is not None
        os.kill(running.pid, signal.SIGINT)  # fast shutdown, as an operator's mistake would
        for _ in range(60):
            await asyncio.sleep(0.5)
            if EmbeddedPostgres(var_dir / "pg").running() is not None:
                break
        for _ in range(40):
            if await ready(url) == "ready":
                break
            await asyncio.sleep(0.5)
        assert await ready(url) == "ready"
        output = await stop(process)
    assert "embedded PostgreSQL is down; starting it again" in output
    assert EmbeddedPostgres(var_dir / "pg").running() is None  # stopped with its last user
