"""Reading PostgreSQL's plans in tests: which tables a query reads, and with what conditions."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


def scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a JSON plan that reads a table."""
    found = [node] if "Relation Name" in node else []
    for child in node.get("Plans", []):
        found += scans(child)
    return found


async def assert_reads_only_the_breakout(
    connection: asyncpg.Connection, view: str, breakout: str
) -> None:
    """Selecting one breakout of `view` filters every table it reads by that breakout (the
    planner pushed the filter down through windows, groups and unions) rather than computing
    every breakout and filtering after."""
    [plan] = json.loads(
        await connection.fetchval(
            f"EXPLAIN (FORMAT JSON) SELECT * FROM {view}"  # noqa: S608 - our names
            " WHERE org_id = 'org-a' AND breakout_id = $1",
            breakout,
        )
    )
    found = scans(plan["Plan"])
    assert found
    for scan in found:
        conditions = f"{scan.get('Index Cond', '')} {scan.get('Filter', '')}"
        assert breakout in conditions, (view, scan["Relation Name"], conditions)
