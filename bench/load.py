"""Load benchmark: the real server against the bare python-socketio stack, same load, same run.

Starts `run.py serve --workers N` (embedded PostgreSQL and Redis on this machine) and
`bench/bare_server.py --workers N` (rooms and acks only), and drives each with clients that
speak Engine.IO v4 / Socket.IO v5 over aiohttp websockets (realistic User-Agents and forwarded
addresses), in these phases:

- warm-up: --warmup s of closed loop, not measured (pools, caches and breakouts get made);
- closed loop: every client joins, awaits the ack, leaves, awaits the ack, for --duration s;
- fixed rate: --rates events/s offered in total (latency counted from when each event was due,
  so a stalled server cannot hide its queue), --duration s each;
- hold: --hold sockets connected and joined at once: server RSS per socket over the idle server.

For the real server, every acked join must then be in PostgreSQL and every acked leave recorded;
--pg-outage S stops PostgreSQL for S seconds in the middle of the closed loop. Each run is an
interleaved pair (ours, then bare); medians of --runs runs are printed and written to
bench/results/load.{json,md} (--name: another file, for an A/B lever), with the figure that
judges us: the server process tree's CPU (user + system, from /proc) per acked event, and the
median over pairs of ours/bare. --bare-on granian adds the bare stack served by Granian (ASGI)
to every run, and its CPU per event against the bare stack on aiohttp, pair by pair.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import bench_postgres, markdown_table, report  # noqa: E402
from models.auth.tokens import TokenAuthority  # noqa: E402
from models.domain.records import Role  # noqa: E402
from server.embedded.postgres import EmbeddedPostgres  # noqa: E402

SECRET = "bench-secret-0123456789-0123456789-0123456789"
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
)
CONNECT_CONCURRENCY = 100
HOLD_PER_PROCESS = 9_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- the processes under test -------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


@dataclass
class Target:
    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    processes: int  # in its tree once every worker is up
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        assert self.process is not None  # noqa: S101
        return process_tree(self.process.pid)

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command, cwd=ROOT, env=self.env, stdout=asyncio.subprocess.DEVNULL
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/healthz") as response:
                        # Every worker must be up before the load starts.
                        if response.status == 200 and len(self.pids()) >= self.processes:
                            await asyncio.sleep(1.0)
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not come up")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 90)
            except TimeoutError:
                for pid in self.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                raise RuntimeError(f"{self.name} did not stop on SIGTERM") from None


# --- the clients ----------------------------------------------------------------------------


class Client:
    """One socket; a reader task answers pings, hands each ack to the call awaiting it, and
    each event frame (`42[...]`, raw) to `on_event` when one is set."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.in_room: str | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.on_event: Callable[[str], None] | None = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            frame = message.data
            if frame == "2":
                await self.ws.send_str("3")
            elif isinstance(frame, str) and frame.startswith("43"):
                cut = frame.index("[")
                future = self.pending.pop(int(frame[2:cut]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(frame[cut:])[0])
            elif self.on_event is not None and isinstance(frame, str) and frame.startswith("42"):
                self.on_event(frame)
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("socket closed"))

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_str(f"42{self.next_id}" + json.dumps([event, payload]))
        return await asyncio.wait_for(future, 60)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


@dataclass
class Ledger:
    """What the server acked, to look up in PostgreSQL afterwards."""

    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    refused: int = 0
    last_refusal: Any = None


async def step(client: Client, rooms: list[str], ledger: Ledger) -> None:
    """The client's next event: join a room when out, leave it when in."""
    if client.in_room is None:
        room = random.choice(rooms)  # noqa: S311 - load shape, not security
        ack = await client.call("join-chat-room", {"breakoutId": room})
        if ack.get("ok"):
            client.in_room = room
            if "sessionId" in ack:
                ledger.joined.append(ack["sessionId"])
            return
    else:
        ack = await client.call("leave-chat-room", {"breakoutId": client.in_room})
        if ack.get("ok"):
            if "sessionId" in ack:
                ledger.left.append(ack["sessionId"])
            client.in_room = None
            return
    ledger.refused += 1
    ledger.last_refusal = ack


@contextlib.asynccontextmanager
async def clients(
    url: str, count: int, first: int = 0, *, deflate: bool = False
) -> AsyncIterator[list[Client]]:
    """`count` connected sockets (users u<first>...); with `deflate` each offers per-message
    deflate in its handshake, as browsers do (the server decides whether to use it)."""
    authority = TokenAuthority(secret=SECRET)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    opened: list[Client] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def connect(number: int) -> None:
            token = authority.mint(
                user_id=f"u{number}",
                name=f"User {number}",
                org_id="bench",
                role=Role.ATTENDEE,
                ttl_s=3600,
            )
            headers = {
                "User-Agent": USER_AGENTS[number % len(USER_AGENTS)],
                "X-Forwarded-For": f"81.2.{number % 250}.{number % 200 + 1}",
            }
            async with gate:
                ws = await http.ws_connect(
                    f"{url}/socket.io/?EIO=4&transport=websocket",
                    headers=headers,
                    compress=15 if deflate else 0,
                )
                await ws.receive_str()  # Engine.IO open
                await ws.send_str("40" + json.dumps({"token": token}))
                connected = await ws.receive_str()
                if not connected.startswith("40"):
                    raise RuntimeError(f"connect refused: {connected}")
                opened.append(Client(ws))

        try:
            await asyncio.gather(*(connect(n) for n in range(first, first + count)))
            yield opened
        finally:
            await asyncio.gather(*(client.close() for client in opened))


# --- the phases ------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def postgres_pids(database: EmbeddedPostgres) -> list[int]:
    running = database.running()
    return [] if running is None else process_tree(running.pid)


async def measured(
    target: Target,
    load: Callable[[list[float]], Awaitable[None]],
    database: EmbeddedPostgres | None = None,
) -> dict[str, float]:
    """One phase's figures; with `database`, PostgreSQL's CPU per event too (it is not in the
    server's tree, but shares the machine's cores)."""
    latencies: list[float] = []
    pids = target.pids()
    cpu_before, own_before = cpu_seconds(pids), time.process_time()
    database_before = cpu_seconds(postgres_pids(database)) if database else 0.0
    started = time.perf_counter()
    await load(latencies)
    elapsed = time.perf_counter() - started
    server_cpu_s = cpu_seconds(target.pids()) - cpu_before
    database_cpu_s = cpu_seconds(postgres_pids(database)) - database_before if database else 0.0
    return {
        "events": len(latencies),
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "p999_ms": percentile(latencies, 0.999) * 1000,
        "server_cores": server_cpu_s / elapsed,
        # The figure that judges us: user + system CPU of the whole server process tree
        # (workers, supervisor, its Redis; not PostgreSQL) per acked event.
        "cpu_us_per_event": server_cpu_s * 1e6 / max(len(latencies), 1),
        "generator_cores": (time.process_time() - own_before) / elapsed,
        "postgres_us_per_event": database_cpu_s * 1e6 / max(len(latencies), 1),
    }


def closed_loop(
    sockets: list[Client], rooms: list[str], duration_s: float, ledger: Ledger
) -> Callable[[list[float]], Awaitable[None]]:
    async def load(latencies: list[float]) -> None:
        deadline = time.perf_counter() + duration_s

        async def run(client: Client) -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                await step(client, rooms, ledger)
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(run(client) for client in sockets))

    return load


def fixed_rate(
    sockets: list[Client], rooms: list[str], rate: float, duration_s: float, ledger: Ledger
) -> Callable[[list[float]], Awaitable[None]]:
    async def load(latencies: list[float]) -> None:
        due: asyncio.Queue[float | None] = asyncio.Queue()

        async def run(client: Client) -> None:
            while (scheduled := await due.get()) is not None:
                await step(client, rooms, ledger)
                latencies.append(time.perf_counter() - scheduled)

        workers = [asyncio.create_task(run(client)) for client in sockets]
        started = time.perf_counter()
        total = int(rate * duration_s)
        sent = 0
        while sent < total:
            now = time.perf_counter()
            while sent < min(total, int((now - started) * rate) + 1):
                due.put_nowait(started + sent / rate)
                sent += 1
            await asyncio.sleep(0.0005)
        for _ in workers:
            due.put_nowait(None)
        await asyncio.gather(*workers)

    return load


async def hold(target: Target, count: int, breakouts: int) -> dict[str, float]:
    """Server RSS per connected and joined socket, over the same server idle.

    The sockets are opened by helper processes (HOLD_PER_PROCESS each): one process may not
    hold more descriptors than its open-file limit."""
    await asyncio.sleep(1.0)
    idle = rss_bytes(target.pids())
    helpers = []
    for first in range(0, count, HOLD_PER_PROCESS):
        size = min(HOLD_PER_PROCESS, count - first)
        helpers.append(
            await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "bench.load", "--hold-helper", target.url),
                *(str(size), str(first), str(breakouts)),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        )
    reports = []
    for helper in helpers:
        assert helper.stdout is not None  # noqa: S101
        reports.append(json.loads(await asyncio.wait_for(helper.stdout.readline(), 600)))
    await asyncio.sleep(2.0)
    loaded = rss_bytes(target.pids())
    for helper in helpers:
        assert helper.stdin is not None  # noqa: S101
        helper.stdin.write(b"close\n")
        await helper.stdin.drain()
    await asyncio.gather(*(asyncio.wait_for(helper.wait(), 300) for helper in helpers))
    return {
        "sockets": count,
        "joined": sum(report["joined"] for report in reports),
        "connect_per_s": count / max(report["connect_s"] for report in reports),
        "rss_idle_mb": idle / 2**20,
        "rss_loaded_mb": loaded / 2**20,
        "rss_per_socket_kb": (loaded - idle) / count / 1024,
    }


async def hold_helper(url: str, count: int, first: int, breakouts: int) -> None:
    """In a helper process: open and join `count` sockets, report, hold them until told."""
    rooms = room_names(breakouts)
    started = time.perf_counter()
    async with clients(url, count, first) as sockets:
        connect_s = time.perf_counter() - started
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        ledger = Ledger()

        async def join(client: Client) -> None:
            async with gate:
                await step(client, rooms, ledger)

        await asyncio.gather(*(join(client) for client in sockets))
        joined = sum(client.in_room is not None for client in sockets)
        sys.stdout.write(json.dumps({"joined": joined, "connect_s": connect_s}) + "\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)


def room_names(breakouts: int) -> list[str]:
    rng = random.Random(7)
    return [f"bench-{rng.getrandbits(32):08x}" for _ in range(breakouts)]


# --- a run -------------------------------------------------------------------------------------


@dataclass
class Options:
    workers: int
    clients: int
    duration_s: float
    warmup_s: float
    rates: list[float]
    hold: int
    breakouts: int
    pg_outage_s: float
    server_env: dict[str, str]
    # Settings of a lever to try: a third target, ours with them, in every run.
    lever: dict[str, str] = field(default_factory=dict)
    # Another server for the bare stack (granian): a further target in every run.
    bare_on: str | None = None


async def exercise(
    target: Target,
    options: Options,
    ledger: Ledger,
    outage: Callable[[], Coroutine[Any, Any, None]] | None,
    database: EmbeddedPostgres | None = None,
) -> dict[str, Any]:
    rooms = room_names(options.breakouts)
    phases: dict[str, Any] = {}
    await target.start()
    try:
        async with clients(target.url, options.clients) as sockets:
            if options.warmup_s > 0:  # caches, pools and breakouts warm; the acks still count
                await closed_loop(sockets, rooms, options.warmup_s, ledger)([])
            load = closed_loop(sockets, rooms, options.duration_s, ledger)
            outage_task = asyncio.create_task(outage()) if outage else None
            phases["closed"] = await measured(target, load, database)
            if outage_task is not None:
                await outage_task
            for rate in options.rates:
                load = fixed_rate(sockets, rooms, rate, options.duration_s, ledger)
                phases[f"rate_{rate:.0f}"] = await measured(target, load, database)
            for client in sockets:
                if client.in_room is not None:
                    await step(client, rooms, ledger)
        if options.hold:
            phases["hold"] = await hold(target, options.hold, options.breakouts)
    finally:
        await target.stop()
    return phases


async def missing_in_database(database_url: str, ledger: Ledger) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        joined = await connection.fetchval(
            "SELECT count(DISTINCT session_id) FROM attendance_sessions WHERE session_id = ANY($1)",
            ledger.joined,
        )
        left = await connection.fetchval(
            "SELECT count(*) FROM attendance_sessions WHERE session_id = ANY($1)"
            " AND exit_reason = 'leave'",
            ledger.left,
        )
    finally:
        await connection.close()
    return {
        "acked_joins": len(ledger.joined),
        "acked_leaves": len(ledger.left),
        "missing_joins": len(ledger.joined) - joined,
        "missing_leaves": len(ledger.left) - left,
        "refused": ledger.refused,
    }


def ours_target(workers: int, env: dict[str, str]) -> Target:
    """`run.py serve --workers N` as the benchmarks run it, with `env` (DATABASE_URL, VAR_DIR,
    and any setting to try) on top of the bench's own settings."""
    port = free_port()
    return Target(
        "ours",
        [sys.executable, "run.py", "serve", "--workers", str(workers)],
        {
            **os.environ,
            "AUTH_SECRET": SECRET,
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
            # A closed loop sends far past a person's 10 events/s: measure the path, not the
            # per-socket limiter. The bench's addresses are spread, not one proxy.
            "EVENT_RATE_PER_S": "1000000",
            "EVENT_BURST": "1000000",
            "TRUSTED_PROXIES": "127.0.0.1/32",
            **env,
        },
        port=port,
        # With several workers: the supervisor, and its Redis unless REDIS_URL names one. One
        # worker runs alone, without Redis (presence in memory).
        processes=1 if workers == 1 else workers + (1 if env.get("REDIS_URL") else 2),
    )


async def run_ours(
    embedded: EmbeddedPostgres,
    database_url: str,
    port: int,
    options: Options,
    lever: dict[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Our server under the load, with `lever`'s settings on top: its phases and durability."""
    with tempfile.TemporaryDirectory(prefix="attendance-bench-var-") as var_dir:
        ours = ours_target(
            options.workers,
            {"DATABASE_URL": database_url, "VAR_DIR": var_dir, **options.server_env, **lever},
        )

        async def pg_outage() -> None:
            await asyncio.sleep(max(0.0, (options.duration_s - options.pg_outage_s) / 2))
            await asyncio.to_thread(embedded.stop)
            await asyncio.sleep(options.pg_outage_s)
            await asyncio.to_thread(embedded.start, port)

        ledger = Ledger()
        outage = pg_outage if options.pg_outage_s > 0 else None
        phases = await exercise(ours, options, ledger, outage, embedded)
        await asyncio.sleep(2.0)  # sockets closed by the last phase finish their exits
        durability = await missing_in_database(database_url, ledger)
        if ledger.last_refusal is not None:
            durability["last_refusal"] = ledger.last_refusal
    return phases, durability


async def one_run(
    embedded: EmbeddedPostgres, database_url: str, port: int, options: Options
) -> dict[str, Any]:
    """One interleaved set: ours, ours with the lever (when one is being tried), the bare
    stack; each started fresh."""
    result: dict[str, Any] = {}
    result["ours"], result["durability"] = await run_ours(embedded, database_url, port, options, {})
    if options.lever:
        result["lever"], durability = await run_ours(
            embedded, database_url, port, options, options.lever
        )
        for key in ("missing_joins", "missing_leaves"):
            result["durability"][key] += durability[key]
    result["bare"] = await exercise(bare_target(options, "aiohttp"), options, Ledger(), None)
    if options.bare_on:
        result["bare_on"] = await exercise(
            bare_target(options, options.bare_on), options, Ledger(), None
        )
    return result


def bare_target(options: Options, on: str) -> Target:
    """bench/bare_server.py with as many workers as ours, on aiohttp or Granian."""
    port = free_port()
    return Target(
        "bare",
        [
            sys.executable,
            "bench/bare_server.py",
            "--port",
            str(port),
            "--workers",
            str(options.workers),
            "--loop",
            options.server_env.get("EVENT_LOOP", "uvloop"),
            "--on",
            on,
        ],
        dict(os.environ),
        port=port,
        # Granian's main process is not a worker; it runs beside them.
        processes=options.workers + (1 if on == "granian" else 0),
    )


def raise_file_limit(wanted: int) -> int:
    """Raise this process's (and so its children's) open-file limit toward `wanted`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, soft), max(wanted, hard)))
    except (ValueError, OSError):  # raising the hard limit needs CAP_SYS_RESOURCE
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(wanted, hard)), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def medians(runs: list[dict[str, Any]], target: str) -> dict[str, dict[str, float]]:
    return {
        phase: {key: statistics.median(run[target][phase][key] for run in runs) for key in figures}
        for phase, figures in runs[0][target].items()
    }


def pair_ratios(runs: list[dict[str, Any]], top: str, bottom: str, key: str) -> dict[str, float]:
    """Per phase, the median over runs of `top`/`bottom` within each run: a run interleaves
    its targets (ours, the lever, then bare, on the same machine minutes apart), so the
    machine's drift hits both sides of each ratio."""
    return {
        phase: statistics.median(run[top][phase][key] / run[bottom][phase][key] for run in runs)
        for phase in runs[0][top]
        if phase != "hold"
    }


def table(options: Options, summary: dict[str, Any], runs: int) -> list[str]:
    rows = []
    for phase, ours in summary["ours"].items():
        if phase == "hold":
            continue
        bare = summary["bare"][phase]
        rows.append(
            [
                phase.replace("rate_", "offered "),
                f"{ours['events_per_s']:.0f}",
                f"{bare['events_per_s']:.0f}",
                f"{ours['events_per_s'] / bare['events_per_s']:.2f}",
                f"{ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} / {ours['p999_ms']:.1f}",
                f"{bare['p50_ms']:.1f} / {bare['p99_ms']:.1f} / {bare['p999_ms']:.1f}",
                f"{ours['server_cores']:.2f} / {bare['server_cores']:.2f}",
                f"{ours['cpu_us_per_event']:.0f} / {bare['cpu_us_per_event']:.0f}",
                f"{summary['cpu_ratio'][phase]:.2f}",
                f"{ours['postgres_us_per_event']:.0f}",
            ]
        )
    lines = markdown_table(
        f"join/leave over Socket.IO, {options.workers} workers, {options.clients} sockets, "
        f"{options.duration_s:.0f} s a phase, median of {runs}",
        [
            "phase",
            "ours ev/s",
            "bare ev/s",
            "ratio",
            "ours p50/p99/p99.9 ms",
            "bare p50/p99/p99.9 ms",
            "server cores ours/bare",
            "CPU µs/event ours/bare",
            "CPU ratio (pairs)",
            "PostgreSQL CPU µs/event ours",
        ],
        rows,
    )
    if "hold" in summary["ours"]:
        ours, bare = summary["ours"]["hold"], summary["bare"]["hold"]
        lines += [""] + markdown_table(
            f"{options.hold} sockets connected and joined",
            ["", "RSS idle MB", "RSS loaded MB", "KB per socket", "connects/s"],
            [
                [
                    name,
                    f"{held['rss_idle_mb']:.0f}",
                    f"{held['rss_loaded_mb']:.0f}",
                    f"{held['rss_per_socket_kb']:.1f}",
                    f"{held['connect_per_s']:.0f}",
                ]
                for name, held in (("ours", ours), ("bare", bare))
            ],
            level=2,
        )
        ratio = ours["rss_per_socket_kb"] / bare["rss_per_socket_kb"]
        lines.append(f"\nRSS per socket, ours / bare: {ratio:.2f}")
    if options.lever:
        setting = ", ".join(f"{k}={v}" for k, v in options.lever.items())

        def both(phase: str, key: str, shape: str) -> str:
            ours, lever = summary["ours"][phase][key], summary["lever"][phase][key]
            return f"{ours:{shape}} / {lever:{shape}}"

        lines += [""] + markdown_table(
            f"lever {setting}: ours against ours with it, same runs",
            [
                "phase",
                "CPU µs/event ours / lever",
                "lever / ours (pairs)",
                "ev/s ours / lever",
                "p99 ms ours / lever",
                "PostgreSQL µs/event ours / lever",
            ],
            [
                [
                    phase.replace("rate_", "offered "),
                    both(phase, "cpu_us_per_event", ".0f"),
                    f"{summary['lever_ratio'][phase]:.3f}",
                    both(phase, "events_per_s", ".0f"),
                    both(phase, "p99_ms", ".1f"),
                    both(phase, "postgres_us_per_event", ".0f"),
                ]
                for phase in summary["lever_ratio"]
            ],
            level=2,
        )
    if options.bare_on:
        lines += [""] + markdown_table(
            f"the bare stack on {options.bare_on} against it on aiohttp, same runs",
            [
                "phase",
                "CPU µs/event aiohttp / " + options.bare_on,
                f"{options.bare_on} / aiohttp (pairs)",
                "ev/s aiohttp / " + options.bare_on,
                f"p99 ms aiohttp / {options.bare_on}",
            ],
            [
                [
                    phase.replace("rate_", "offered "),
                    f"{summary['bare'][phase]['cpu_us_per_event']:.0f} / "
                    f"{summary['bare_on'][phase]['cpu_us_per_event']:.0f}",
                    f"{summary['bare_on_ratio'][phase]:.3f}",
                    f"{summary['bare'][phase]['events_per_s']:.0f} / "
                    f"{summary['bare_on'][phase]['events_per_s']:.0f}",
                    f"{summary['bare'][phase]['p99_ms']:.1f} / "
                    f"{summary['bare_on'][phase]['p99_ms']:.1f}",
                ]
                for phase in summary["bare_on_ratio"]
            ],
            level=2,
        )
    durability = summary["durability"]
    lines.append(
        f"\nDurability: {durability['acked_joins']:.0f} acked joins, "
        f"{durability['acked_leaves']:.0f} acked leaves; missing in PostgreSQL: "
        f"{durability['missing_joins']:.0f} joins, {durability['missing_leaves']:.0f} leaves "
        f"(worst run); refused: {durability['refused']:.0f}"
        + (
            f"; PostgreSQL stopped {options.pg_outage_s:.0f} s mid closed loop"
            if options.pg_outage_s
            else ""
        )
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes (both targets)")
    parser.add_argument("--clients", type=int, default=200, help="sockets driving the load")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds a phase")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured closed-loop seconds first"
    )
    parser.add_argument(
        "--rates", default="1500,5000", help="fixed-rate phases, events/s, comma separated"
    )
    parser.add_argument("--hold", type=int, default=2000, help="sockets held for RSS (0: skip)")
    parser.add_argument("--breakouts", type=int, default=50, help="breakouts to spread over")
    parser.add_argument("--pg-outage", type=float, default=0.0, help="stop PostgreSQL S seconds")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for our server, e.g. EVENT_LOOP=asyncio (repeatable), for A/B runs",
    )
    parser.add_argument(
        "--lever",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="try a lever: each run also runs ours with this setting (repeatable), between "
        "ours and bare, and reports its CPU per event against ours, pair by pair",
    )
    parser.add_argument(
        "--bare-on",
        choices=["granian"],
        help="also run the bare stack on this server in every run, against it on aiohttp",
    )
    parser.add_argument("--name", default="load", help="results file: bench/results/NAME.*")
    parser.add_argument("--hold-helper", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold_helper:
        url, count, first, breakouts = args.hold_helper
        asyncio.run(hold_helper(url, int(count), int(first), int(breakouts)))
        return
    options = Options(
        workers=args.workers,
        clients=args.clients,
        duration_s=args.duration,
        warmup_s=args.warmup,
        rates=[float(rate) for rate in args.rates.split(",") if rate],
        hold=args.hold,
        breakouts=args.breakouts,
        pg_outage_s=args.pg_outage,
        server_env=dict(pair.split("=", 1) for pair in args.server_env),
        lever=dict(pair.split("=", 1) for pair in args.lever),
        bare_on=args.bare_on,
    )
    limit = raise_file_limit(4 * HOLD_PER_PROCESS)
    if limit < min(options.hold, HOLD_PER_PROCESS) + options.clients + 256:
        parser.error(f"open-file limit {limit} is too low")

    with bench_postgres() as (embedded, running, _):
        runs = [
            asyncio.run(one_run(embedded, running.url, running.port, options))
            for _ in range(args.runs)
        ]

    summary: dict[str, Any] = {"ours": medians(runs, "ours"), "bare": medians(runs, "bare")}
    summary["cpu_ratio"] = pair_ratios(runs, "ours", "bare", "cpu_us_per_event")
    if options.lever:
        summary["lever"] = medians(runs, "lever")
        summary["lever_ratio"] = pair_ratios(runs, "lever", "ours", "cpu_us_per_event")
    if options.bare_on:
        summary["bare_on"] = medians(runs, "bare_on")
        summary["bare_on_ratio"] = pair_ratios(runs, "bare_on", "bare", "cpu_us_per_event")
    summary["durability"] = {
        key: max(run["durability"][key] for run in runs)
        for key in ("acked_joins", "acked_leaves", "missing_joins", "missing_leaves", "refused")
    }
    result = {
        "benchmark": "load",
        "options": options.__dict__,
        "runs": runs,
        "median": summary,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    report(args.name, result, table(options, summary, len(runs)))


if __name__ == "__main__":
    main()
