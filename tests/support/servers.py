"""Servers under test: the app on a loopback port, `run.py` as a process, private PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

from handlers.keys import ATTENDANCE, POOL, TOKENS
from models.domain.records import Role
from models.live.desk import Attendance
from server.embedded.postgres import EmbeddedPostgres

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@dataclass
class RunningServer:
    url: str
    runner: web.AppRunner

    @property
    def app(self) -> web.Application:
        app: web.Application = self.runner.app
        return app

    async def stop(self) -> None:
        """Stop as on SIGTERM: on_shutdown, then every cleanup context. Safe to call twice."""
        if self.runner.server is not None:
            await self.runner.cleanup()

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app[POOL]

    @property
    def attendance(self) -> Attendance:
        return self.app[ATTENDANCE]

    def token(
        self,
        user: str = "u1",
        *,
        name: str = "Ada Lovelace",
        role: Role = Role.ATTENDEE,
        org: str = "org-a",
        ttl_s: int = 3600,
    ) -> str:
        return self.app[TOKENS].mint(user_id=user, name=name, org_id=org, role=role, ttl_s=ttl_s)

    async def session_row(self, session_id: str) -> asyncpg.Record | None:
        async with self.pool.acquire() as connection:
            return await connection.fetchrow(
                "SELECT *, host(client_ip) AS ip FROM attendance_sessions WHERE session_id = $1",
                session_id,
            )


@contextlib.contextmanager
def open_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory every user can reach: an embedded PostgreSQL run as root runs
    as its own system user, which must reach its data directory."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def private_postgres(prefix: str) -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL of a test's own, for tests that stop or restart it."""
    with open_directory(prefix) as root:
        embedded = EmbeddedPostgres(root / "pg")
        try:
            yield embedded
        finally:
            embedded.stop()


ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(
    environment: dict[str, str], var_dir: Path, *args: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`run.py *args` as its own process, ready; yields it and its URL; killed if still up.

    Its output goes to a file, never a pipe nobody reads (a full pipe would block the server);
    when the test fails, the file is printed so the failure shows what the server said.
    """
    port = free_port()
    var_dir.mkdir(parents=True, exist_ok=True)
    log_path = var_dir / "server.log"
    env = {
        **os.environ,
        "AUTH_SECRET": TEST_SECRET,
        "VAR_DIR": str(var_dir),
        "PORT": str(port),
        "TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
        **environment,
    }
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "run.py", *args, cwd=ROOT, env=env, stdout=log, stderr=log
        )
    _LOGS[process.pid] = log_path
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(url, process)
        yield process, url
    except BaseException:
        sys.stderr.write(f"--- output of run.py {' '.join(args)} ---\n{_read(log_path)}\n")
        raise
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):  # an embedded PostgreSQL's first start takes a few seconds
            if process.returncode is not None:
                raise AssertionError(f"the server exited with {process.returncode}")
            try:
                async with http.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server did not become ready")


_LOGS: dict[int, Path] = {}


def _read(path: Path) -> str:
    return path.read_bytes().decode(errors="replace")


async def stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, then everything the process printed."""
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 15)
    return _read(_LOGS[process.pid])


@contextlib.asynccontextmanager
async def cluster(
    shared: dict[str, str], tmp_path: Path, size: int = 2
) -> AsyncIterator[list[tuple[asyncio.subprocess.Process, str]]]:
    """`size` nodes (a, b, c...) sharing one PostgreSQL and one Redis. Each node still running at
    the end is stopped with SIGTERM and must exit cleanly."""
    async with contextlib.AsyncExitStack() as stack:
        nodes = [
            await stack.enter_async_context(serving(shared, tmp_path / name))
            for name in "abcdef"[:size]
        ]
        yield nodes
        for process, _ in nodes:
            if process.returncode is None:
                output = await stop(process)
                assert process.returncode == 0, output
