"""What one event and one socket cost each shared part, for the scale-out guide
(docs/scale-out.md): Redis commands and bytes, PostgreSQL transactions, rows and WAL bytes per
acked join or leave; server memory per joined socket. (Redis memory per viewer:
bench/redis_memory.py, which measures it alone.)

Starts a private PostgreSQL and redis-server, and `run.py serve --workers N` on them; sends
join/leave at a fixed rate from `--clients` sockets for `--seconds`, reading Redis INFO and
PostgreSQL's statistics before and after; then holds `--hold` joined sockets and reads the
server's RSS. Repeats `--runs` times and reports medians. Writes
bench/results/scale.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    Ledger,
    clients,
    fixed_rate,
    hold,
    measured,
    ours_target,
    raise_file_limit,
    room_names,
    step,
)
from bench.report import bench_postgres, markdown_table, report  # noqa: E402
from server.embedded.redis import EmbeddedRedis  # noqa: E402

PG_STATS = """
SELECT pg_current_wal_lsn()::text AS lsn, xact_commit, tup_inserted, tup_updated
FROM pg_stat_database WHERE datname = current_database()
"""


async def pg_stats(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        row = dict(await connection.fetchrow(PG_STATS) or {})
        row["wal"] = await connection.fetchval(
            "SELECT $1::text::pg_lsn - '0/0'::pg_lsn", row["lsn"]
        )
        return row
    finally:
        await connection.close()


async def redis_stats(url: str) -> dict[str, float]:
    client = redis.from_url(url)
    try:
        stats = await client.info("stats")
        commands = await client.info("commandstats")
    finally:
        await client.aclose()
    return {
        "calls": sum(float(entry["calls"]) for entry in commands.values()),
        "bytes_in": float(stats["total_net_input_bytes"]),
        "bytes_out": float(stats["total_net_output_bytes"]),
    }


async def one_run(args: argparse.Namespace, database_url: str, redis_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="attendance-bench-var-") as var_dir:
        target = ours_target(
            args.workers,
            {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "VAR_DIR": var_dir},
        )
        rooms = room_names(args.breakouts)
        ledger = Ledger()
        await target.start()
        try:
            async with clients(target.url, args.clients) as sockets:
                warm = fixed_rate(sockets, rooms, args.rate, 2.0, ledger)
                await warm([])
                pg_before, redis_before = await pg_stats(database_url), await redis_stats(redis_url)
                phase = await measured(
                    target, fixed_rate(sockets, rooms, args.rate, args.seconds, ledger)
                )
                await asyncio.sleep(1.0)  # the last batches commit, the last broadcasts go
                pg_after, redis_after = await pg_stats(database_url), await redis_stats(redis_url)
                for client in sockets:
                    if client.in_room is not None:
                        await step(client, rooms, ledger)
            await asyncio.sleep(2.0)
            held = await hold(target, args.hold, args.breakouts) if args.hold else {}
        finally:
            await target.stop()
    events = phase["events"]
    return {
        "events": events,
        "events_per_s": phase["events_per_s"],
        "p99_ms": phase["p99_ms"],
        "cpu_us_per_event": phase["cpu_us_per_event"],
        "redis_commands_per_event": (redis_after["calls"] - redis_before["calls"]) / events,
        "redis_bytes_in_per_event": (redis_after["bytes_in"] - redis_before["bytes_in"]) / events,
        "redis_bytes_out_per_event": (redis_after["bytes_out"] - redis_before["bytes_out"])
        / events,
        "pg_commits_per_event": (pg_after["xact_commit"] - pg_before["xact_commit"]) / events,
        "pg_rows_per_event": (
            pg_after["tup_inserted"]
            + pg_after["tup_updated"]
            - pg_before["tup_inserted"]
            - pg_before["tup_updated"]
        )
        / events,
        "pg_wal_bytes_per_event": float(pg_after["wal"] - pg_before["wal"]) / events,
        "server_rss_kb_per_socket": held.get("rss_per_socket_kb", 0.0),
        "sockets_held": held.get("joined", 0),
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with bench_postgres() as (_, running, scratch):
        embedded_redis = EmbeddedRedis(scratch / "redis")
        redis_url = embedded_redis.start().url
        try:
            for _ in range(args.runs):
                results.append(await one_run(args, running.url, redis_url))
        finally:
            embedded_redis.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1500.0, help="join/leave events a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hold", type=int, default=5000, help="joined sockets held (0: none)")
    parser.add_argument("--breakouts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    raise_file_limit(args.hold + args.clients + 1024)
    runs = asyncio.run(run(args))
    summary = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    labels = {
        "events_per_s": "acked events/s",
        "p99_ms": "p99 ms",
        "cpu_us_per_event": "server CPU µs / event",
        "redis_commands_per_event": "Redis commands / event",
        "redis_bytes_in_per_event": "Redis bytes in / event",
        "redis_bytes_out_per_event": "Redis bytes out / event",
        "pg_commits_per_event": "PostgreSQL commits / event",
        "pg_rows_per_event": "PostgreSQL rows written / event",
        "pg_wal_bytes_per_event": "WAL bytes / event",
        "server_rss_kb_per_socket": "server RSS KB / joined socket",
    }
    table = markdown_table(
        f"Cost per event and per viewer: {args.workers} workers, {args.rate:.0f} events/s, "
        f"{args.hold} sockets held; median of {args.runs}",
        ["measure", "median", *(f"run {n + 1}" for n in range(len(runs)))],
        [
            [label, f"{summary[key]:,.2f}", *(f"{run[key]:,.2f}" for run in runs)]
            for key, label in labels.items()
        ],
    )
    report("scale", {"options": vars(args), "runs": runs, "median": summary}, table)


if __name__ == "__main__":
    main()
