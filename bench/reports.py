"""Report speed at the seeds' size: a school month over ~300,000 check events, a breakout of
~100,000 sessions.

Starts a private PostgreSQL, seeds it with `models.jobs.seed` (the generator behind `run.py seed`),
starts `run.py serve` against it and times the HTTP reports, first while every seeded day is
still stale (computed live from the raw rows), then after the rollup job has run (the normal
state: closed days from rollups, today live). Medians of `--repeat` requests after one warm-up.
`--activity-every-min N` also gives every closed session of the breakout an activity report
every N minutes (its client reporting what the viewer does, README "Engagement"), so the
breakout's report works out everyone's engagement. Writes bench/results/reports.{json,md}
(`--name` another name).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import SECRET, Target, free_port  # noqa: E402
from bench.report import bench_postgres, markdown_table, report  # noqa: E402
from models.auth.tokens import TokenAuthority  # noqa: E402
from models.domain.records import Role  # noqa: E402
from models.jobs.seed import SeedPlan, seed  # noqa: E402
from models.reports.rollups import roll_up_all  # noqa: E402
from models.store.migrate import apply_migrations  # noqa: E402

# School days over 31 days x pupils x ~1.9 events a day of presence: about 300,000 events.
SCHOOL = SeedPlan(org_id="bench-school", schools=1, users_per_school=7_200, days=31, breakouts=0)
# ~1.2 sessions per attendee (reconnects, second devices, 5% no-shows): about 100,000 sessions.
BREAKOUT = SeedPlan(
    org_id="bench-breakout", schools=0, breakouts=1, attendees_per_breakout=84_000, days=1
)
# A client's reports through a session: a state every $1 minutes from a second after entry,
# cycling through all five, up to the exit.
ACTIVITY = """
INSERT INTO session_activity (org_id, breakout_id, user_id, session_id, at, state)
SELECT s.org_id, s.breakout_id, s.user_id, s.session_id,
       s.entry_ts + interval '1 second' + n * $1 * interval '1 minute',
       (ARRAY['visible', 'playing', 'hidden', 'idle', 'paused'])[1 + n % 5]
FROM attendance_sessions AS s
CROSS JOIN LATERAL generate_series(0, 1000) AS n
WHERE s.org_id = $2 AND s.exit_ts IS NOT NULL
  AND s.entry_ts + interval '1 second' + n * $1 * interval '1 minute' < s.exit_ts
"""


async def timed(http: aiohttp.ClientSession, url: str, token: str, repeat: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    durations = []
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        async with http.get(url, headers=headers) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}: {response.status} {body[:300]!r}")
        if attempt:  # the first one warms caches and plans
            durations.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(durations), 1),
        "min_ms": round(min(durations), 1),
        "max_ms": round(max(durations), 1),
        "bytes": len(body),
    }


async def run(database_url: str, repeat: int, activity_every_min: float) -> dict[str, Any]:
    last = SCHOOL.last_day
    first = last - timedelta(days=SCHOOL.days - 1)
    school_url = (
        f"/api/attendances/aggregate/school/bench-school-school-0"
        f"?from={first}&to={last}&period=month"
    )
    reports = {
        "school month": (school_url, "bench-school"),
        "school month, per user": (school_url + "&detail=users", "bench-school"),
        "school by day": (school_url.replace("period=month", "period=day"), "bench-school"),
        "breakout": ("/api/breakouts/bench-breakout-breakout-0/attendance", "bench-breakout"),
        "breakout CSV": (
            "/api/breakouts/bench-breakout-breakout-0/attendance?format=csv",
            "bench-breakout",
        ),
    }
    authority = TokenAuthority(secret=SECRET)
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection)  # before the server, so the bench owns the schema
    finally:
        await connection.close()
    with tempfile.TemporaryDirectory(prefix="attendance-bench-var-") as var_dir:
        port = free_port()
        server = Target(
            "ours",
            [sys.executable, "run.py", "serve"],
            {
                **os.environ,
                "DATABASE_URL": database_url,
                "AUTH_SECRET": SECRET,
                "PORT": str(port),
                "VAR_DIR": var_dir,
                "LOG_LEVEL": "WARNING",
                # The bench decides when the rollups run.
                "ROLLUP_INTERVAL_S": "86400",
            },
            port=port,
            processes=1,
        )
        await server.start()
        results: dict[str, Any] = {}
        try:
            async with aiohttp.ClientSession(server.url) as http:
                pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
                try:
                    # Seeded after the server's first rollup round: every day starts stale.
                    async with pool.acquire() as connection:
                        started = time.perf_counter()
                        school_counts = await seed(connection, SCHOOL)
                        breakout_counts = await seed(connection, BREAKOUT)
                        activity = 0
                        if activity_every_min > 0:
                            status = await connection.execute(
                                ACTIVITY, activity_every_min, BREAKOUT.org_id
                            )
                            activity = int(status.rsplit(" ", 1)[-1])
                            await connection.execute("ANALYZE session_activity")
                        seeded_s = time.perf_counter() - started
                    for state in ("live", "rolled up"):
                        if state == "rolled up":
                            rolled_started = time.perf_counter()
                            days = await roll_up_all(pool)
                            results["rollup"] = {
                                "days": days,
                                "seconds": round(time.perf_counter() - rolled_started, 2),
                            }
                        for name, (path, org) in reports.items():
                            token = authority.mint(
                                user_id="analyst",
                                name="Analyst",
                                org_id=org,
                                role=Role.ANALYST,
                                ttl_s=3600,
                            )
                            results[f"{name} ({state})"] = await timed(http, path, token, repeat)
                finally:
                    await pool.close()
        finally:
            await server.stop()
    results["data"] = {
        "check_events": school_counts.check_events,
        "pupils": school_counts.users,
        "sessions": breakout_counts.sessions,
        "activity_rows": activity,
        "seed_seconds": round(seeded_s, 1),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per report (7)")
    parser.add_argument(
        "--activity-every-min",
        type=float,
        default=0.0,
        help="an activity report every N minutes of every breakout session (0: none)",
    )
    parser.add_argument("--name", default="reports", help="results file name (reports)")
    args = parser.parse_args()
    with bench_postgres() as (_, running, _root):
        result = asyncio.run(run(running.url, args.repeat, args.activity_every_min))
    result["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    data = result["data"]
    rows = [
        [name, f"{figures['median_ms']}", f"{figures['min_ms']}-{figures['max_ms']}"]
        for name, figures in result.items()
        if isinstance(figures, dict) and "median_ms" in figures
    ]
    table = markdown_table(
        f"Report latency over HTTP ({data['check_events']:,} check events of "
        f"{data['pupils']:,} pupils; {data['sessions']:,} sessions in one breakout, "
        f"{data['activity_rows']:,} activity reports)",
        ["report", "median ms", "range ms"],
        rows,
    )
    table += [
        "",
        f"Seeded in {data['seed_seconds']} s; rollups of {result['rollup']['days']} stale days "
        f"took {result['rollup']['seconds']} s. Targets: school month < 500 ms, "
        "breakout < 300 ms.",
    ]
    report(args.name, result, table)


if __name__ == "__main__":
    main()
