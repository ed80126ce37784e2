"""Where benchmarks put their figures: printed, and saved as JSON and a markdown table."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server.embedded.postgres import EmbeddedPostgres, RunningPostgres

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def markdown_table(
    title: str, columns: list[str], rows: list[list[str]], *, level: int = 1
) -> list[str]:
    """A heading (of `level`: 2 for a table under the first) and a table of right-aligned
    figures."""
    return [
        f"{'#' * level} {title}",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---:" for _ in columns) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def report(name: str, result: dict[str, Any], table: list[str]) -> None:
    """Print `table` and write bench/results/<name>.json and <name>.md."""
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS_DIR / f"{name}.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))  # noqa: T201 - a benchmark reports on stdout


@contextlib.contextmanager
def bench_postgres(
    keep: Path | None = None,
) -> Iterator[tuple[EmbeddedPostgres, RunningPostgres, Path]]:
    """A PostgreSQL of the benchmark's own, in a scratch directory every user can reach (an
    embedded PostgreSQL started as root runs as its own system user); stopped and removed
    after, unless it lives in `keep` (kept, stopped, for the next run). Yields it, its running
    address, and the directory."""
    with contextlib.ExitStack() as stack:
        if keep is None:
            root = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="attendance-bench-"))
            )
        else:
            root = keep.resolve()
            root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        embedded = EmbeddedPostgres(root / "pg")
        running = embedded.start()
        try:
            yield embedded, running, root
        finally:
            embedded.stop()
