"""Reading PostgreSQL's plans in tests: which tables a query reads, and with what conditions."""

from __future__ import annotations

import asyncio
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
        conditions = " ".join(
            scan.get(part, "") for part in ("Index Cond", "Recheck Cond", "Filter")
        )
        assert breakout in conditions, (view, scan["Relation Name"], conditions)


def _executed(node: dict[str, Any]) -> list[str]:
    """The tables (partitions by their own names) an analysed plan really read."""
    found = []
    if "Relation Name" in node and node.get("Actual Loops", 0) > 0:
        found.append(node["Relation Name"])
    for child in node.get("Plans", []):
        found += _executed(child)
    return found


async def tables_read(connection: asyncpg.Connection, statement: str, *args: object) -> set[str]:
    """Every table `statement` (and any statement it runs inside, such as a function's) reads
    when run as the server runs it: prepared by asyncpg, on its generic plan, so partitions are
    pruned at run time or not at all. The statement runs in a transaction rolled back after."""
    plans: list[dict[str, Any]] = []

    def heard(_: object, message: asyncpg.PostgresLogMessage) -> None:
        text = str(message.message)
        if "plan:" in text:
            plans.append(json.loads(text.split("plan:", 1)[1])["Plan"])

    connection.add_log_listener(heard)
    try:
        async with connection.transaction():
            await connection.execute(
                "LOAD 'auto_explain';"
                " SET LOCAL auto_explain.log_min_duration = 0;"
                " SET LOCAL auto_explain.log_analyze = on;"
                " SET LOCAL auto_explain.log_format = 'json';"
                " SET LOCAL auto_explain.log_nested_statements = on;"
                " SET LOCAL auto_explain.log_level = 'notice';"
                " SET LOCAL client_min_messages = 'notice';"
                " SET LOCAL plan_cache_mode = force_generic_plan"
            )
            await connection.fetch(statement, *args)
            await connection.execute("SET LOCAL auto_explain.log_min_duration = -1")
            raise _RolledBack
    except _RolledBack:
        pass
    finally:
        await asyncio.sleep(0.05)  # the listener hears a message on a later turn of the loop
        connection.remove_log_listener(heard)
    assert plans, "auto_explain logged no plan"
    return {table for plan in plans for table in _executed(plan)}


class _RolledBack(Exception):
    """Leaves the statement's transaction without a trace."""
