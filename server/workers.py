"""`serve --workers N`: N server processes on one port, sharing one PostgreSQL and one Redis."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from types import FrameType

from config import Settings
from server.embedded.postgres import EmbeddedPostgres
from server.embedded.redis import EmbeddedRedis, EmbeddedRedisError

logger = logging.getLogger(__name__)

POLL_S = 0.2
STOP_TIMEOUT_S = 30.0
# More deaths than this within the window means something is wrong beyond a crash: stop.
MAX_DEATHS, DEATH_WINDOW_S = 5, 60.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor dies, even by SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Starts the workers (SO_REUSEPORT, websocket transport), restarts one that dies, and on
    SIGTERM or SIGINT passes SIGTERM on so each closes its sessions (`shutdown`) and exits.

    Long-polling needs every request of a client to reach the same process, which a shared port
    does not promise; with websocket only, each connection lives on one worker.
    """

    def __init__(self, settings: Settings, count: int, script: Path) -> None:
        self._settings = settings
        self._count = count
        self._script = script
        self._stopping = False
        self._deaths: deque[float] = deque()

    def run(self) -> int:
        postgres = redis = None
        env = dict(os.environ)
        try:
            if not self._settings.database_url:
                postgres = EmbeddedPostgres(self._settings.var_dir / "pg")
                env["DATABASE_URL"] = postgres.start().url
            if not self._settings.redis_url:
                redis = EmbeddedRedis(self._settings.var_dir / "redis")
                env["REDIS_URL"] = redis.start().url
        except EmbeddedRedisError as exc:
            logger.error("--workers needs Redis to share presence: %s", exc)
            return 2
        env.update(
            HOST=self._settings.host,
            PORT=str(self._settings.port),
            REUSE_PORT="on",
            WEBSOCKET_ONLY="on",
        )
        try:
            return self._supervise(env)
        finally:
            if redis is not None:
                redis.stop()
            if postgres is not None:
                postgres.stop()

    def _supervise(self, env: dict[str, str]) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        workers = [self._spawn(env, index) for index in range(self._count)]
        logger.info(
            "%d workers on http://%s:%d (websocket transport)",
            self._count,
            self._settings.host,
            self._settings.port,
        )
        status = 0
        while not self._stopping:
            time.sleep(POLL_S)
            for index, worker in enumerate(workers):
                if worker.poll() is None or self._stopping:
                    continue
                logger.error(
                    "worker %d exited with %s; restarting it", worker.pid, worker.returncode
                )
                if self._too_many_deaths():
                    logger.error("workers keep dying; stopping")
                    self._stopping, status = True, 1
                    break
                workers[index] = self._spawn(env, index)
        self._stop_all(workers)
        return status

    def _spawn(self, env: dict[str, str], index: int) -> subprocess.Popen[bytes]:
        """Start worker `index`; a restarted worker takes its predecessor's journal and
        replays whatever it left there."""
        command = [sys.executable, str(self._script), "serve"]
        journal = self._settings.journal_path / f"worker-{index}"
        return subprocess.Popen(  # noqa: S603 - our own script
            command, env=env | {"JOURNAL_DIR": str(journal)}, preexec_fn=_die_with_parent
        )

    def _too_many_deaths(self) -> bool:
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > DEATH_WINDOW_S:
            self._deaths.popleft()
        return len(self._deaths) > MAX_DEATHS

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    @staticmethod
    def _stop_all(workers: list[subprocess.Popen[bytes]]) -> None:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in workers:
            try:
                worker.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("worker %d did not stop in time; killing it", worker.pid)
                worker.kill()
                worker.wait()
