"""Where benchmarks put their figures: printed, and saved as JSON and a markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def markdown_table(title: str, columns: list[str], rows: list[list[str]]) -> list[str]:
    """A heading and a table of right-aligned figures."""
    return [
        f"# {title}",
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
