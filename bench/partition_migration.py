"""What migration 0016 (time partitions) costs a running install: how long it runs, and how long
the hot path's writes wait meanwhile.

Starts a private PostgreSQL, applies the migrations before 0016, loads `--rows` closed sessions
and as many activity rows (and a comment for every hundred sessions), then applies 0016 while
a writer opens and closes a session every 5 ms the way the server's batches do. Reports the
migration's time, the longest write and the writes' p99, and checks every row is still there.
Writes bench/results/partition-migration.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import bench_postgres, markdown_table, report  # noqa: E402
from models.domain.records import now_ms  # noqa: E402
from models.store.migrate import apply_migrations, available_migrations  # noqa: E402

PARTITIONS = 16
LOAD = """
INSERT INTO breakouts (org_id, id) SELECT 'org', 'b' || g FROM generate_series(1, 100) AS g;
INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,
                                 exit_reason, org_id, user_name, city, country_code, browser,
                                 os, device_type, user_agent, node_id)
SELECT 'u' || g, 'b' || (g % 100 + 1), 's' || g, now() - g * interval '2 seconds',
       now() - g * interval '2 seconds' + interval '40 minutes', 'leave', 'org', 'User ' || g,
       'Madrid', 'ES', 'Chrome', 'Windows', 'desktop',
       'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36',
       'node-a'
FROM generate_series(1, $1::integer) AS g;
INSERT INTO session_activity (org_id, breakout_id, user_id, session_id, at, state)
SELECT 'org', 'b' || (g % 100 + 1), 'u' || g, 's' || g,
       now() - g * interval '2 seconds' + interval '1 minute', 'visible'
FROM generate_series(1, $1::integer) AS g;
INSERT INTO comments (org_id, breakout_id, id, user_id, user_name, text, created_at)
SELECT 'org', 'b' || (g % 100 + 1), 'c' || g, 'u' || g, 'User ' || g, 'hello',
       now() - g * interval '2 seconds'
FROM generate_series(1, $1::integer / 100) AS g;
"""
# One write as the hot path makes it (an open, then its exit); the table is whichever
# attendance_sessions is current when the statement runs.
OPEN = """
INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, org_id, node_id)
VALUES ($1, 'b1', $1, $2, 'org', 'probe')
"""
CLOSE = """
UPDATE attendance_sessions SET exit_ts = $2, exit_reason = 'leave'
WHERE user_id = $1 AND breakout_id = 'b1' AND session_id = $1 AND exit_ts IS NULL
"""
COUNTS = """
SELECT (SELECT count(*) FROM attendance_sessions) AS sessions,
       (SELECT count(*) FROM session_activity) AS activity,
       (SELECT count(*) FROM comments) AS comments
"""


async def probe(url: str, stop: asyncio.Event, durations: list[float]) -> None:
    """Open and close a session every 5 ms until `stop`, timing each pair."""
    connection = await asyncpg.connect(url)
    try:
        number = 0
        while not stop.is_set():
            number += 1
            started = time.perf_counter()
            key = f"probe-{number}"
            await connection.execute(OPEN, key, now_ms())
            await connection.execute(CLOSE, key, now_ms() + timedelta(milliseconds=1))
            durations.append(time.perf_counter() - started)
            await asyncio.sleep(0.005)
    finally:
        await connection.close()


async def run(rows: int, scratch: Path, url: str) -> dict[str, Any]:
    before = scratch / "before"
    before.mkdir()
    for migration in available_migrations():
        if migration.version < PARTITIONS:
            (before / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    connection = await asyncpg.connect(url)
    try:
        await apply_migrations(connection, before)
        started = time.perf_counter()
        for statement in LOAD.strip().split(";\n"):
            await connection.execute(statement, *((rows,) if "$1" in statement else ()))
        await connection.execute("VACUUM ANALYZE")
        loaded_s = time.perf_counter() - started
        counted = dict(await connection.fetchrow(COUNTS) or {})

        stop = asyncio.Event()
        durations: list[float] = []
        writer = asyncio.create_task(probe(url, stop, durations))
        await asyncio.sleep(1.0)  # the probe's writes before, for comparison
        steady = len(durations)
        started = time.perf_counter()
        await apply_migrations(connection)
        migration_s = time.perf_counter() - started
        await asyncio.sleep(1.0)
        stop.set()
        await writer
        after = dict(await connection.fetchrow(COUNTS) or {})
        probes = await connection.fetchval(
            "SELECT count(*) FROM attendance_sessions WHERE node_id = 'probe'"
        )
    finally:
        await connection.close()
    during = durations[steady:]
    return {
        "rows": rows,
        "load_s": round(loaded_s, 1),
        "migration_s": round(migration_s, 2),
        "write_p50_ms_before": round(statistics.median(durations[:steady]) * 1000, 2),
        "write_max_ms_during": round(max(during) * 1000, 1),
        "write_p99_ms_during": round(statistics.quantiles(during, n=100)[98] * 1000, 2),
        "writes": len(durations),
        "rows_before": counted,
        "rows_after": {
            "sessions": after["sessions"] - probes,
            "activity": after["activity"],
            "comments": after["comments"],
        },
        "probe_writes_kept": probes == len(durations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="sessions to load")
    args = parser.parse_args()
    with bench_postgres() as (_, running, scratch):
        result = asyncio.run(run(args.rows, scratch, running.url))
    kept = result["rows_before"] == result["rows_after"] and result["probe_writes_kept"]
    table = markdown_table(
        f"Migration 0016 on {args.rows:,} sessions, {args.rows:,} activity rows",
        ["migration s", "longest write ms", "write p99 ms", "write p50 ms before", "rows kept"],
        [
            [
                f"{result['migration_s']:.2f}",
                f"{result['write_max_ms_during']:.0f}",
                f"{result['write_p99_ms_during']:.1f}",
                f"{result['write_p50_ms_before']:.2f}",
                "all" if kept else "NO",
            ]
        ],
    )
    report("partition-migration", result, table)


if __name__ == "__main__":
    main()
