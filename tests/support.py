"""Shared test helpers: a running server, clients that talk to it, and a tiny City database."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import netaddr
import socketio
from aiohttp import web
from mmdb_writer import MMDBWriter

from handlers.context import ATTENDANCE, POOL, TOKENS
from models.attendance import Attendance
from models.embedded_postgres import EmbeddedPostgres
from models.records import AttendanceSession, ClientInfo, Role, SessionType, now_ms

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)

# Public addresses the test City database knows; each maps to one place.
LONDON_IP = "81.2.69.160"
PARIS_IPV6 = "2a01:e0a:1:2::3"
LONDON = {
    "city": "London",
    "region": "England",
    "country_code": "GB",
    "latitude": 51.5142,
    "longitude": -0.0931,
}
PARIS = {
    "city": "Paris",
    "region": "Île-de-France",
    "country_code": "FR",
    "latitude": 48.8566,
    "longitude": 2.3522,
}


def _city_record(place: dict[str, Any], region_code: str) -> dict[str, Any]:
    return {
        "city": {"names": {"en": place["city"]}},
        "subdivisions": [{"iso_code": region_code, "names": {"en": place["region"]}}],
        "country": {"iso_code": place["country_code"], "names": {"en": place["country_code"]}},
        "location": {"latitude": place["latitude"], "longitude": place["longitude"]},
    }


def build_city_db(path: Path, database_type: str = "GeoLite2-City") -> Path:
    """A two-network City database in the MaxMind format, the shape GeoLite2 City has."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    writer.insert_network(netaddr.IPSet(["81.2.69.0/24"]), _city_record(LONDON, "ENG"))
    writer.insert_network(netaddr.IPSet(["2a01:e0a::/32"]), _city_record(PARIS, "IDF"))
    writer.to_db_file(str(path))
    return path


def sample_session(breakout_id: str, number: int, **changes: Any) -> AttendanceSession:
    """Session s<number> of user u<number>, live, opened now from London; `changes` replace
    fields."""
    session = AttendanceSession(
        user_id=f"u{number}",
        breakout_id=breakout_id,
        session_id=f"s{number}",
        session_type=SessionType.LIVE,
        entry_ts=now_ms(),
        user_name=f"User {number}",
        org_id="org-a",
        client=ClientInfo(city="London", ip="81.2.69.0"),
    )
    return dataclasses.replace(session, **changes) if changes else session


def new_breakout_id() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


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


@dataclass
class Viewer:
    """A Python Socket.IO client that records every event it receives."""

    client: socketio.AsyncClient
    events: dict[str, asyncio.Queue[Any]] = field(default_factory=dict)

    def queue(self, event: str) -> asyncio.Queue[Any]:
        return self.events.setdefault(event, asyncio.Queue())

    async def call(self, event: str, payload: Any = None) -> Any:
        if payload is None:
            return await self.client.call(event, timeout=10)
        return await self.client.call(event, payload, timeout=10)

    async def next(self, event: str, timeout_s: float = 5.0) -> Any:
        return await asyncio.wait_for(self.queue(event).get(), timeout_s)

    async def count_becomes(self, breakout_id: str, count: int, timeout_s: float = 5.0) -> None:
        """Wait for a viewer-count of `count`: counts are coalesced, so steps may be skipped."""
        expected = {"breakoutId": breakout_id, "count": count}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (await self.next("viewer-count", deadline - loop.time())) != expected:
            pass


async def connect_viewer(
    server: RunningServer,
    token: str | None,
    *,
    user_agent: str = CHROME_MAC,
    forwarded_for: str | None = None,
    transports: list[str] | None = None,
) -> Viewer:
    client = socketio.AsyncClient(reconnection=False)
    viewer = Viewer(client)
    for event in ("viewer-count", "presence-diff", "playback", "breakout-ended", "fever-alert"):
        client.on(event, viewer.queue(event).put_nowait)
    headers = {"User-Agent": user_agent}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    auth = {"token": token} if token is not None else None
    await client.connect(
        server.url,
        auth=auth,
        headers=headers,
        transports=transports or ["websocket"],
        wait_timeout=10,
    )
    return viewer


class RawSocket:
    """Engine.IO v4 / Socket.IO v5 spoken by hand over an aiohttp websocket.

    For what a well-behaved client library will not do: go silent without closing (a frozen
    tab, a lost network), or send malformed frames.
    """

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self._session = session
        self.ws = ws
        self._ack_id = 0

    @classmethod
    async def connect(cls, server_url: str, token: str) -> RawSocket:
        session = aiohttp.ClientSession()
        url = server_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        ws = await session.ws_connect(url)
        raw = cls(session, ws)
        opened = await raw.receive()
        assert opened.startswith("0"), opened
        await ws.send_str("40" + json.dumps({"token": token}))
        connected = await raw.receive()
        assert connected.startswith("40"), connected
        return raw

    async def receive(self) -> str:
        message = await asyncio.wait_for(self.ws.receive(), 10)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return str(message.data)

    async def call(self, event: str, payload: Any) -> Any:
        """Emit with an ack id and return the ack, answering pings meanwhile."""
        self._ack_id += 1
        await self.ws.send_str(f"42{self._ack_id}" + json.dumps([event, payload]))
        prefix = f"43{self._ack_id}"
        while True:
            frame = await self.receive()
            if frame == "2":
                await self.ws.send_str("3")
            elif frame.startswith(prefix):
                return json.loads(frame[len(prefix) :])[0]

    async def close(self) -> None:
        await self.ws.close()
        await self._session.close()


@contextlib.contextmanager
def private_postgres(prefix: str) -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL of a test's own, for tests that stop or restart it."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # the server may run as its own system user
    embedded = EmbeddedPostgres(root / "pg")
    try:
        yield embedded
    finally:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)


ROOT = Path(__file__).resolve().parent.parent


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
        **environment,
    }
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "run.py", *args, cwd=ROOT, env=env, stdout=log, stderr=log
        )
    _LOGS[process.pid] = log_path
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(url)
        yield process, url
    except BaseException:
        sys.stderr.write(f"--- output of run.py {' '.join(args)} ---\n{_read(log_path)}\n")
        raise
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
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
