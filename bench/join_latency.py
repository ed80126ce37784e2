"""Join/leave ack latency and throughput of a real server process on an embedded PostgreSQL.

Starts `run.py serve` (a separate process, as deployed) and drives it with many Socket.IO
clients that speak Engine.IO v4 / Socket.IO v5 over aiohttp websockets, each doing closed-loop
join/leave cycles with a realistic User-Agent and forwarded address. Every acked session is then
looked up in PostgreSQL. Prints a table and writes bench/results/join_latency.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import markdown_table, report  # noqa: E402
from models.embedded_postgres import EmbeddedPostgres  # noqa: E402
from models.records import Role  # noqa: E402
from models.tokens import TokenAuthority  # noqa: E402

SECRET = "bench-secret-0123456789-0123456789-0123456789"
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Client:
    """One viewer socket: emits with ack ids and measures each ack's latency."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, event: str, payload: dict[str, Any]) -> tuple[float, Any]:
        self.next_id += 1
        prefix = f"43{self.next_id}"
        started = time.perf_counter()
        await self.ws.send_str(f"42{self.next_id}" + json.dumps([event, payload]))
        while True:
            frame = await self.ws.receive_str()
            if frame == "2":
                await self.ws.send_str("3")
            elif frame.startswith(prefix):
                return time.perf_counter() - started, json.loads(frame[len(prefix) :])[0]


async def open_client(http: aiohttp.ClientSession, url: str, token: str, number: int) -> Client:
    headers = {
        "User-Agent": USER_AGENTS[number % len(USER_AGENTS)],
        "X-Forwarded-For": f"81.2.{number % 250}.{number % 200 + 1}",
    }
    ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket", headers=headers)
    await ws.receive_str()  # Engine.IO open
    await ws.send_str("40" + json.dumps({"token": token}))
    connected = await ws.receive_str()
    if not connected.startswith("40"):
        raise RuntimeError(f"connect refused: {connected}")
    return Client(ws)


async def drive(
    url: str, clients: int, cycles: int, breakouts: int
) -> tuple[list[float], list[str], float]:
    authority = TokenAuthority(secret=SECRET)
    latencies: list[float] = []
    session_ids: list[str] = []
    rng = random.Random(1)
    rooms = [f"bench-{rng.getrandbits(32):08x}" for _ in range(breakouts)]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sockets = [
            await open_client(
                http,
                url,
                authority.mint(
                    user_id=f"u{n}",
                    name=f"User {n}",
                    org_id="bench",
                    role=Role.ATTENDEE,
                    ttl_s=3600,
                ),
                n,
            )
            for n in range(clients)
        ]

        async def cycle(client: Client, number: int) -> None:
            for turn in range(cycles):
                room = rooms[(number + turn) % len(rooms)]
                took, ack = await client.call("join-chat-room", {"breakoutId": room})
                if not ack.get("ok"):
                    raise RuntimeError(f"join refused: {ack}")
                latencies.append(took)
                session_ids.append(ack["sessionId"])
                took, ack = await client.call("leave-chat-room", {"breakoutId": room})
                if not ack.get("ok"):
                    raise RuntimeError(f"leave refused: {ack}")
                latencies.append(took)

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(cycle(c, n) for n, c in enumerate(sockets))), timeout=300
        )
        elapsed = time.perf_counter() - started
        for client in sockets:
            await client.ws.close()
    return latencies, session_ids, elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def one_run(database_url: str, clients: int, cycles: int, breakouts: int) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as var_dir:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "AUTH_SECRET": SECRET,
            "PORT": str(port),
            "VAR_DIR": var_dir,
            "LOG_LEVEL": "WARNING",
            # A closed loop sends far past a person's 10 events/s: measure the path, not the
            # per-socket limiter.
            "EVENT_RATE_PER_S": "1000000",
            "EVENT_BURST": "1000000",
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "run.py",
            "serve",
            cwd=ROOT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                for _ in range(200):
                    try:
                        async with http.get(f"{url}/readyz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
            latencies, session_ids, elapsed = await drive(url, clients, cycles, breakouts)
        finally:
            server.send_signal(signal.SIGTERM)
            await asyncio.wait_for(server.wait(), 60)
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM attendance_sessions WHERE session_id = ANY($1) "
            "AND exit_reason = 'leave'",
            session_ids,
        )
    finally:
        await connection.close()
    return {
        "events": len(latencies),
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "p999_ms": percentile(latencies, 0.999) * 1000,
        "acked_sessions": len(session_ids),
        "missing_in_db": len(session_ids) - stored,
    }


async def run_all(
    database_url: str, runs: int, clients: int, cycles: int, breakouts: int
) -> list[dict[str, Any]]:
    return [await one_run(database_url, clients, cycles, breakouts) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100, help="concurrent sockets (<= 2000)")
    parser.add_argument("--cycles", type=int, default=50, help="join+leave cycles per socket")
    parser.add_argument("--breakouts", type=int, default=20, help="breakouts to spread over")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported")
    args = parser.parse_args()
    clients, cycles = min(args.clients, 2000), min(args.cycles, 1000)

    with tempfile.TemporaryDirectory(prefix="attendance-bench-") as root:
        Path(root).chmod(0o755)
        embedded = EmbeddedPostgres(Path(root) / "pg")
        database_url = os.environ.get("DATABASE_URL") or embedded.start().url
        try:
            runs = asyncio.run(run_all(database_url, args.runs, clients, cycles, args.breakouts))
        finally:
            embedded.stop()

    summary = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    result = {
        "benchmark": "join_latency",
        "clients": clients,
        "cycles": cycles,
        "breakouts": args.breakouts,
        "runs": runs,
        "median": summary,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    lines = markdown_table(
        f"join/leave over Socket.IO, {clients} sockets x {cycles} cycles, median of {len(runs)}",
        ["events/s", "p50 ms", "p99 ms", "p99.9 ms", "acked sessions", "missing in DB"],
        [
            f"{summary['events_per_s']:.0f}",
            f"{summary['p50_ms']:.2f}",
            f"{summary['p99_ms']:.2f}",
            f"{summary['p999_ms']:.2f}",
            f"{summary['acked_sessions']:.0f}",
            f"{summary['missing_in_db']:.0f}",
        ],
    )
    report("join_latency", result, lines)


if __name__ == "__main__":
    main()
