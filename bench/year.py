"""A year of the record at 1/100 of the seed's sizing, and what it costs: 10 organisations x
10,000 records a day for 365 days (36.5 M sessions and check events), loaded by COPY.

Starts a private PostgreSQL, makes the monthly partitions for the year, and loads each
organisation with `models.jobs.seed` (the generator behind `run.py seed`: pupils checking in
and out on school days, breakouts with lateness, reconnects and second devices), half of its
records sessions and half check events, plus one breakout of ~100,000 sessions. Then it
measures: the load itself, table and index sizes per day of data, the rollups, a school month,
the 100,000-session breakout and an organisation's month aggregate over HTTP (medians of
`--repeat`), join/leave p99 at 1,500 events/s on the loaded database and on an empty one,
interleaved, `--pairs` of each (and what else the loaded database was busy with meanwhile), and
`purge` of the oldest month (dropping its partitions).
Writes bench/results/year.{json,md}; `--scale` shrinks it (0.1: a tenth) for a quicker look;
`--keep DIR` keeps the loaded database in DIR and measures a later run on it without loading
again (each run's purge drops one more month).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    SECRET,
    Ledger,
    Target,
    clients,
    fixed_rate,
    measured,
    ours_target,
    room_names,
)
from bench.report import bench_postgres, markdown_table, report  # noqa: E402
from bench.reports import timed  # noqa: E402
from config import PartitionInterval, RetentionMode  # noqa: E402
from models.auth.tokens import TokenAuthority  # noqa: E402
from models.domain.records import Role  # noqa: E402
from models.jobs.partitions import create_partitions  # noqa: E402
from models.jobs.retention import purge_sessions  # noqa: E402
from models.jobs.seed import SeedPlan, seed  # noqa: E402
from models.reports.rollups import roll_up_all  # noqa: E402
from models.store.migrate import apply_migrations  # noqa: E402

SEED_SIZING_RECORDS_A_YEAR = 1_000 * 10_000 * 365
# seed(): ~1.9 check events a pupil a school day (5 in 7 days); ~1.2 sessions an attendee.
EVENTS_PER_PUPIL_DAY = 1.9 * 5 / 7
SESSIONS_PER_ATTENDEE = 1.2
ATTENDEES_PER_BREAKOUT = 100
SCHOOLS_PER_ORG = 2
SIZES = """
SELECT t.parent, sum(pg_table_size(t.partition::regclass))::bigint AS table_bytes,
       sum(pg_indexes_size(t.partition::regclass))::bigint AS index_bytes
FROM time_partitions AS t GROUP BY t.parent
UNION ALL
SELECT relname, pg_table_size(oid), pg_indexes_size(oid) FROM pg_class
WHERE relname IN ('school_visits', 'presence_daily_schools', 'breakouts') AND relkind = 'r'
"""
# What the database's other backends are doing: autovacuum, or a query of the server's own
# background jobs, while join/leave is measured.
BUSY = """
SELECT backend_type, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid()
  AND (backend_type = 'autovacuum worker' OR now() - query_start > interval '50 milliseconds')
"""
CHECKPOINTS = "SELECT num_done FROM pg_stat_checkpointer"
COUNTS = """
SELECT (SELECT count(*) FROM attendance_sessions) AS sessions,
       (SELECT count(*) FROM check_events) AS check_events
"""


def plans(args: argparse.Namespace, last_day: date) -> list[SeedPlan]:
    records_per_org_day = 10_000 * args.scale
    pupils = round(records_per_org_day / 2 / EVENTS_PER_PUPIL_DAY / SCHOOLS_PER_ORG)
    breakouts = round(
        records_per_org_day / 2 * args.days / (ATTENDEES_PER_BREAKOUT * SESSIONS_PER_ATTENDEE)
    )
    found = [
        SeedPlan(
            org_id=f"org-{n}",
            schools=SCHOOLS_PER_ORG,
            users_per_school=pupils,
            days=args.days,
            breakouts=breakouts,
            attendees_per_breakout=ATTENDEES_PER_BREAKOUT,
            last_day=last_day,
            seed=n + 1,
        )
        for n in range(args.orgs)
    ]
    big = round(84_000 * min(1.0, args.scale * 10))  # ~100,000 sessions at full size
    found.append(
        SeedPlan(
            org_id="org-big",
            schools=0,
            breakouts=1,
            attendees_per_breakout=big,
            days=1,
            last_day=last_day,
        )
    )
    return found


async def load(url: str, args: argparse.Namespace, last_day: date) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        await apply_migrations(connection)
        first = datetime.combine(last_day - timedelta(days=args.days), datetime.min.time(), UTC)
        await create_partitions(
            connection, PartitionInterval.MONTH, first, first + timedelta(days=args.days + 3)
        )
        started = time.perf_counter()
        loaded: dict[str, int] = {"sessions": 0, "check_events": 0}
        for plan in plans(args, last_day):
            counts = await seed(connection, plan)
            loaded["sessions"] += counts.sessions
            loaded["check_events"] += counts.check_events
            print(f"loaded {plan.org_id}: {counts}", flush=True)  # noqa: T201 - progress
        load_s = time.perf_counter() - started
        await connection.execute("VACUUM (ANALYZE)")
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            started = time.perf_counter()
            days = await roll_up_all(pool)
            rollup_s = time.perf_counter() - started
        finally:
            await pool.close()
        await connection.execute("VACUUM (ANALYZE) presence_daily")
        sizes = {row["parent"]: dict(row) for row in await connection.fetch(SIZES)}
    finally:
        await connection.close()
    return {
        "records": loaded["sessions"] + loaded["check_events"],
        **loaded,
        "load_s": round(load_s, 1),
        "rows_per_s": round((loaded["sessions"] + loaded["check_events"]) / load_s),
        "sizes": sizes,
        "rolled_up_days": days,
        "rollup_s": round(rollup_s, 1),
    }


async def time_reports(url: str, args: argparse.Namespace, last_day: date) -> dict[str, Any]:
    """The three reports over HTTP, medians of `--repeat`."""
    month_end = last_day.replace(day=1) - timedelta(days=1)  # the last whole month
    month_start = month_end.replace(day=1)
    window = f"from={month_start}&to={month_end}&period=month"
    reports = {
        "school month": (f"/api/attendances/aggregate/school/org-0-school-0?{window}", "org-0"),
        "breakout of ~100,000 sessions": (
            "/api/breakouts/org-big-breakout-0/attendance",
            "org-big",
        ),
        "organisation month aggregate": (f"/api/attendances/aggregate/breakouts?{window}", "org-0"),
    }
    authority = TokenAuthority(secret=SECRET)
    results: dict[str, Any] = {}
    async with serving(url) as target, aiohttp.ClientSession(target.url) as http:
        for name, (path, org) in reports.items():
            token = authority.mint(
                user_id="analyst", name="Analyst", org_id=org, role=Role.ANALYST, ttl_s=3600
            )
            results[name] = await timed(http, path, token, args.repeat)
    return results


async def join_leave(url: str, seconds: float) -> dict[str, Any]:
    """Join/leave at 1,500 events/s on a server over the database at `url`, and what else the
    database was busy with meanwhile."""
    async with serving(url) as target, clients(target.url, 300) as sockets:
        rooms = room_names(50)
        await fixed_rate(sockets, rooms, 1500, 2.0, Ledger())([])  # warm
        done = asyncio.Event()
        sampler = asyncio.create_task(busy_meanwhile(url, done))
        try:
            figures = await measured(target, fixed_rate(sockets, rooms, 1500, seconds, Ledger()))
        finally:
            done.set()
        return {**figures, "busy": await sampler}


@contextlib.asynccontextmanager
async def serving(url: str) -> AsyncIterator[Target]:
    """`run.py serve --workers 2` over the database at `url`, stopped after."""
    with tempfile.TemporaryDirectory(prefix="attendance-bench-var-") as var_dir:
        target = ours_target(
            2,
            # The bench rolls up when it chooses.
            {"DATABASE_URL": url, "VAR_DIR": var_dir, "ROLLUP_INTERVAL_S": "86400"},
        )
        await target.start()
        try:
            yield target
        finally:
            await target.stop()


async def join_leave_pairs(loaded_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Join/leave on the loaded year and on an empty database, interleaved (loaded, empty,
    loaded, ...) so that the machine's drift hits both: whether the size of the record reaches
    the hot path, and how far the hot path's own p99 varies from run to run."""
    runs: dict[str, list[dict[str, Any]]] = {"loaded": [], "empty": []}
    with bench_postgres() as (_, empty, _root):
        for _ in range(args.pairs):
            runs["loaded"].append(await join_leave(loaded_url, args.seconds))
            runs["empty"].append(await join_leave(empty.url, args.seconds))
    medians = {
        name: {
            key: statistics.median(run[key] for run in found)
            for key in ("p50_ms", "p99_ms", "events_per_s", "cpu_us_per_event")
        }
        for name, found in runs.items()
    }
    return {"runs": runs, "medians": medians}


async def busy_meanwhile(url: str, done: asyncio.Event) -> dict[str, int]:
    """Until `done`: how many samples (every 0.2 s) saw each other piece of work running, and
    how many checkpoints were done meanwhile (each writes out the dirty buffers)."""
    seen: dict[str, int] = {}
    connection = await asyncpg.connect(url)
    try:
        checkpoints = await connection.fetchval(CHECKPOINTS)
        while not done.is_set():
            for row in await connection.fetch(BUSY):
                key = f"{row['backend_type']}: {row['query']}"
                seen[key] = seen.get(key, 0) + 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.2)
        seen["checkpoints done"] = await connection.fetchval(CHECKPOINTS) - checkpoints
        return seen
    finally:
        await connection.close()


async def purge_a_month(url: str) -> dict[str, Any]:
    """Delete-mode retention with the cut at the end of the oldest partition: it drops that
    month's partitions whole."""
    connection = await asyncpg.connect(url)
    try:
        cut = await connection.fetchval(
            "SELECT min(upper) FROM time_partitions"
            " WHERE parent = 'attendance_sessions' AND NOT is_default"
        )
    finally:
        await connection.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        started = time.perf_counter()
        purged = await purge_sessions(
            pool, older_than_days=1, mode=RetentionMode.DELETE, now=cut + timedelta(days=1)
        )
        seconds = time.perf_counter() - started
    finally:
        await pool.close()
    return {"cut": cut.isoformat(), "seconds": round(seconds, 3), "dropped": purged.partitions}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with bench_postgres(args.keep) as (_, running, root):
        kept = root / "loaded.json"
        sizing = {"scale": args.scale, "orgs": args.orgs, "days": args.days}
        if args.keep is not None and kept.exists():
            loaded = json.loads(kept.read_text())
            if loaded["sizing"] != sizing:
                raise SystemExit(f"{args.keep} holds another sizing: {loaded['sizing']}")
            print(f"measuring the year loaded in {args.keep}", flush=True)  # noqa: T201
        else:
            last_day = datetime.now(UTC).date() - timedelta(days=1)
            loaded = await load(running.url, args, last_day)
            loaded.update(sizing=sizing, last_day=last_day.isoformat())
            if args.keep is not None:
                kept.write_text(json.dumps(loaded))
        last_day = date.fromisoformat(loaded["last_day"])
        measured_ = await time_reports(running.url, args, last_day)
        measured_["join/leave at 1,500/s"] = await join_leave_pairs(running.url, args)
        purged = await purge_a_month(running.url)
    options = {**vars(args), "keep": None if args.keep is None else str(args.keep)}
    return {"options": options, "load": loaded, "measured": measured_, "purge": purged}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of 1/100 of the seed (1.0)")
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per report")
    parser.add_argument("--seconds", type=float, default=10.0, help="of join/leave at 1,500/s")
    parser.add_argument(
        "--pairs", type=int, default=3, help="join/leave runs on the year and on an empty database"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the loaded database in DIR; a run that finds one there measures it again",
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    loaded, measured_, purged = result["load"], result["measured"], result["purge"]
    days = args.days
    factor = SEED_SIZING_RECORDS_A_YEAR / max(loaded["records"], 1) * days / 365
    rows = []
    for parent, size in loaded["sizes"].items():
        per_day = (size["table_bytes"] + size["index_bytes"]) / days
        rows.append(
            [
                f"{parent} (table + indexes)",
                f"{size['table_bytes'] / 1e9:.2f} + {size['index_bytes'] / 1e9:.2f} GB",
                f"{per_day / 1e6:.1f} MB/day",
                f"{per_day * factor * 365 / 1e12:.1f} TB/year",
            ]
        )
    for name in ("school month", "breakout of ~100,000 sessions", "organisation month aggregate"):
        figures = measured_[name]
        rows.append([name, f"{figures['median_ms']} ms median", f"{figures['max_ms']} ms max", ""])
    live = measured_["join/leave at 1,500/s"]
    for name in ("loaded", "empty"):
        figures = live["medians"][name]
        rows.append(
            [
                f"join/leave at 1,500/s, {name} database (median of {args.pairs})",
                f"p99 {figures['p99_ms']:.1f} ms (p50 {figures['p50_ms']:.1f})",
                f"{figures['events_per_s']:.0f} ev/s, "
                f"{figures['cpu_us_per_event']:.0f} µs CPU/event",
                "",
            ]
        )
    busy: dict[str, int] = {}
    for run_ in live["runs"]["loaded"]:
        for what, count in run_["busy"].items():
            busy[what] = busy.get(what, 0) + count
    rows.append(
        [
            "database busy meanwhile (loaded runs, samples of 0.2 s)",
            "; ".join(f"{count}x {what}" for what, count in sorted(busy.items())) or "nothing",
            "",
            "",
        ]
    )
    rows.append(
        [
            "purge of the oldest month",
            f"{purged['seconds']} s",
            f"{len(purged['dropped'])} partitions dropped",
            "",
        ]
    )
    rows.append(
        [
            "load by COPY",
            f"{loaded['records']:,} records in {loaded['load_s']} s",
            f"{loaded['rows_per_s']:,} rows/s",
            f"{loaded['records'] * factor / loaded['rows_per_s'] / 3600:.0f} h for a full year",
        ]
    )
    rows.append(
        [
            "rollups",
            f"{loaded['rolled_up_days']:,} place-days in {loaded['rollup_s']} s",
            "",
            "",
        ]
    )
    table = markdown_table(
        f"A year at {args.scale:g}/100 of the seed: {args.orgs} organisations, {days} days, "
        f"{loaded['sessions']:,} sessions and {loaded['check_events']:,} check events",
        ["measure", "figure", "rate or range", "full seed sizing (x100)"],
        rows,
    )
    report("year", result, table)


if __name__ == "__main__":
    main()
