"""The chaos test of truth, short: two nodes, a kill -9, Redis restarted empty, misbehaving
clients; every recorded stay against what its client lived (bench/chaos.py runs the long one)."""

from __future__ import annotations

from pathlib import Path

from bench.chaos import chaos_run, table
from bench.report import report


async def test_every_stay_is_recorded_within_a_second_of_the_truth(
    postgres_url: str, tmp_path: Path
) -> None:
    result = await chaos_run(postgres_url, tmp_path, clients=35, seconds=30)
    report("chaos-short", result, table(result))

    assert result["problems"] == []
    assert result["stays"] >= 35
    assert result["share_within_1s"] >= 0.995
    assert result["rows_without_a_stay"] == 0
    # Each scenario happened, the node kill and the resumes too.
    happened = {name.rsplit(" ", 1)[0] for name in result["errors"]}
    assert {"leave", "close", "freeze", "blip-resume", "blip-new", "second-tab", "switch"} <= (
        happened
    )
    assert "node-kill gap" in result["errors"]
