"""The benchmarks that judge the hot path still run and report what they say they do: each is
run briefly, for real (embedded PostgreSQL and Redis, real processes), and its results file is
read back. Their figures are not judged here; a short run's are noise."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def run_bench(args: list[str], name: str, timeout_s: float) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - this repository's own benchmark
        [sys.executable, *args, "--name", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads((RESULTS / f"{name}.json").read_text())
    return result


@pytest.fixture
def results_name(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"test-{request.node.name}"
    yield name
    for suffix in (".json", ".md"):
        (RESULTS / f"{name}{suffix}").unlink(missing_ok=True)


def test_write_batch_reports_each_encoding_at_each_size(results_name: str) -> None:
    result = run_bench(
        ["-m", "bench.write_batch", "--rounds", "1", "--rows", "8", "--sizes", "1,4"],
        results_name,
        timeout_s=300,
    )["result"]
    assert set(result) == {"rows", "columns", "copy"}
    for by_size in result.values():
        assert set(by_size) == {"1", "4"}
        for figures in by_size.values():
            assert figures["client_us_per_row"] > 0
            assert figures["wall_ms_per_batch"] > 0
            assert figures["postgres_us_per_row"] >= 0


def test_load_compares_ours_with_the_bare_stack_on_aiohttp_and_granian(
    results_name: str,
) -> None:
    run = run_bench(
        [
            "bench/load.py",
            "--runs",
            "1",
            "--clients",
            "10",
            "--breakouts",
            "2",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--rates",
            "200",
            "--hold",
            "0",
            "--bare-on",
            "granian",
        ],
        results_name,
        timeout_s=600,
    )["runs"][0]
    for target in ("ours", "bare", "bare_on"):
        for phase in ("closed", "rate_200"):
            figures = run[target][phase]
            assert figures["events"] > 0, (target, phase)
            assert figures["cpu_us_per_event"] > 0, (target, phase)
    # PostgreSQL's CPU is read for ours (the bare stack has no database).
    assert run["ours"]["closed"]["postgres_us_per_event"] > 0
    durability = run["durability"]
    assert durability["acked_joins"] > 0
    assert durability["missing_joins"] == durability["missing_leaves"] == 0
