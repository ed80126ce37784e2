"""What a session batch costs to send, by encoding: the writer's array of composite rows against
one array per column, and against COPY into a staging table.

Issue 18 asked whether a cheaper encoding of the writer's batch would lower the server's CPU per
event. This runs the writer's own statement (`WRITE_SESSIONS`, opens of new sessions, as a join
storm sends them) against a private PostgreSQL, three ways:

- `rows`: what the server sends, one `session_open_row[]` (migration 0004);
- `columns`: the same rows as one array per column, unnested side by side;
- `copy`: the rows by binary COPY into a temporary table, then the same statement reading it,
  in one transaction (two more round trips: the COPY and the transaction's end).

For each batch size it reports the client's CPU (this process, `time.process_time`) and the
PostgreSQL backend's CPU (from /proc) per row, and the wall time per batch: medians over
`--rounds` rounds, the three ways interleaved within each round so drift hits them alike.
Writes bench/results/<--name>.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import bench_postgres, markdown_table, report  # noqa: E402
from models.domain.records import AttendanceSession, ClientInfo, SessionType  # noqa: E402
from models.jobs.seed import CITIES, DEVICES  # noqa: E402
from models.store.database import Connection  # noqa: E402
from models.store.migrate import apply_migrations  # noqa: E402
from models.store.sessions import WRITE_SESSIONS, _open_row  # noqa: E402

ROWS_SOURCE = "SELECT * FROM unnest($1::session_open_row[])"
assert ROWS_SOURCE in WRITE_SESSIONS  # noqa: S101 - the variants below replace it
# session_open_row's fields and types, in order (migration 0004).
FIELDS = (
    ("user_id", "text"),
    ("breakout_id", "text"),
    ("session_id", "text"),
    ("session_type", "text"),
    ("entry_ts", "timestamptz"),
    ("user_name", "text"),
    ("org_id", "text"),
    ("client_ip", "text"),
    ("city", "text"),
    ("region", "text"),
    ("country_code", "text"),
    ("latitude", "float8"),
    ("longitude", "float8"),
    ("browser", "text"),
    ("browser_version", "text"),
    ("os", "text"),
    ("os_version", "text"),
    ("device_type", "text"),
    ("user_agent", "text"),
    ("node_id", "text"),
    ("exit_ts", "timestamptz"),
    ("exit_reason", "text"),
)
# The columns are $1..$22; the exits' two arrays come after them.
_COLUMN_ARRAYS = ", ".join(f"${n + 1}::{kind}[]" for n, (_, kind) in enumerate(FIELDS))
COLUMNS_STATEMENT = (
    WRITE_SESSIONS.replace("$2::session_exit_row[]", f"${len(FIELDS) + 1}::session_exit_row[]")
    .replace("$3::session_exit_row[]", f"${len(FIELDS) + 2}::session_exit_row[]")
    .replace(
        ROWS_SOURCE,
        f"SELECT * FROM unnest({_COLUMN_ARRAYS}) AS c({', '.join(name for name, _ in FIELDS)})",  # noqa: S608 - constants
    )
)
STAGING = "write_batch_staging"
COPY_STATEMENT = (
    WRITE_SESSIONS.replace("$2::session_exit_row[]", "$1::session_exit_row[]")
    .replace("$3::session_exit_row[]", "$2::session_exit_row[]")
    .replace(ROWS_SOURCE, f"SELECT * FROM {STAGING}")  # noqa: S608 - constants
)
# The staging table holds what the composite holds, typed alike (client_ip as text).
CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE {STAGING} ("
    + ", ".join(f"{name} {kind}" for name, kind in FIELDS)
    + ") ON COMMIT DELETE ROWS"
)

# A desktop browser in a city, as the seed's sessions have them (in ClientInfo's order), with
# the address and the agent the seed leaves out.
CLIENT = ClientInfo(
    "203.0.113.9",
    *CITIES[0],
    *DEVICES[0],
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/124.0",
)


def new_rows(count: int) -> list[tuple[object, ...]]:
    """`count` opens of new sessions, as the writer builds them."""
    now = datetime.now(UTC)
    return [
        _open_row(
            AttendanceSession(
                user_id=f"u{uuid.uuid4().hex[:10]}",
                breakout_id="b1",
                session_id=uuid.uuid4().hex,
                session_type=SessionType.LIVE,
                entry_ts=now,
                user_name="Ana",
                org_id="org",
                client=CLIENT,
                node_id="node-a",
            ),
            None,
        )
        for _ in range(count)
    ]


Send = Callable[[Connection, list[tuple[object, ...]]], Awaitable[object]]


async def send_rows(connection: Connection, rows: list[tuple[object, ...]]) -> object:
    return await connection.fetch(WRITE_SESSIONS, rows, [], [])


async def send_columns(connection: Connection, rows: list[tuple[object, ...]]) -> object:
    return await connection.fetch(
        COLUMNS_STATEMENT, *(list(c) for c in zip(*rows, strict=True)), [], []
    )


async def send_copy(connection: Connection, rows: list[tuple[object, ...]]) -> object:
    async with connection.transaction():
        await connection.copy_records_to_table(STAGING, records=rows)
        return await connection.fetch(COPY_STATEMENT, [], [])


WAYS: dict[str, Send] = {"rows": send_rows, "columns": send_columns, "copy": send_copy}


def backend_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    connection: Connection, backend: int, send: Send, size: int, rows_total: int
) -> dict[str, float]:
    batches = [new_rows(size) for _ in range(max(rows_total // size, 5))]
    for batch in batches[:2]:  # statement cache, plan
        await send(connection, batch)
    measured = batches[2:]
    own, theirs, started = time.process_time(), backend_cpu_s(backend), time.perf_counter()
    for batch in measured:
        await send(connection, batch)
    wall = time.perf_counter() - started
    rows = len(measured) * size
    return {
        "client_us_per_row": (time.process_time() - own) * 1e6 / rows,
        "postgres_us_per_row": (backend_cpu_s(backend) - theirs) * 1e6 / rows,
        "wall_ms_per_batch": wall * 1e3 / len(measured),
    }


async def run(options: argparse.Namespace) -> dict[str, Any]:
    with bench_postgres() as (_, running, _):
        connection: Connection = await asyncpg.connect(running.url)
        try:
            await apply_migrations(connection)
            await connection.execute("INSERT INTO breakouts (org_id, id) VALUES ('org', 'b1')")
            await connection.execute(CREATE_STAGING)
            backend = await connection.fetchval("SELECT pg_backend_pid()")
            samples: dict[str, dict[int, list[dict[str, float]]]] = {
                way: {size: [] for size in options.sizes} for way in WAYS
            }
            for _ in range(options.rounds):
                for size in options.sizes:
                    for way, send in WAYS.items():
                        samples[way][size].append(
                            await measure(connection, backend, send, size, options.rows)
                        )
        finally:
            await connection.close()
    return {
        way: {
            str(size): {
                key: statistics.median(sample[key] for sample in by_size[size])
                for key in by_size[size][0]
            }
            for size in options.sizes
        }
        for way, by_size in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="1,4,32,256", help="rows a batch, comma separated (default 1,4,32,256)"
    )
    parser.add_argument("--rows", type=int, default=4000, help="rows a measurement")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported")
    parser.add_argument("--name", default="write-batch", help="results file: bench/results/NAME.*")
    options = parser.parse_args()
    options.sizes = [int(size) for size in options.sizes.split(",")]
    result = uvloop.run(run(options))
    rows = [
        [
            size,
            way,
            f"{figures['client_us_per_row']:.1f}",
            f"{figures['postgres_us_per_row']:.1f}",
            f"{figures['wall_ms_per_batch']:.2f}",
        ]
        for size in map(str, options.sizes)
        for way, by_size in result.items()
        for figures in [by_size[size]]
    ]
    table = markdown_table(
        f"Session batch encodings, opens of new sessions, median of {options.rounds} rounds",
        ["rows a batch", "encoding", "client CPU µs/row", "PostgreSQL CPU µs/row", "wall ms/batch"],
        rows,
    )
    report(options.name, {"options": vars(options), "result": result}, table)


if __name__ == "__main__":
    main()
