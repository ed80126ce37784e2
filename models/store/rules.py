"""Versions of the presence rules in PostgreSQL (migration 0013): a breakout's own rule, a
school's own thresholds and the server's defaults, each with the time it took effect. Triggers
record a breakout's and a school's; the server records its settings when it starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import asyncpg

from models.store.database import Connection, record_of

SERVER = ("", "")  # the org and id of the server's scope


class RuleScope(StrEnum):
    SERVER = "server"
    BREAKOUT = "breakout"
    SCHOOL = "school"


@dataclass(frozen=True, slots=True)
class RuleVersion:
    scope_kind: RuleScope
    scope_id: str
    version: int
    # None: since always (a scope's first version).
    valid_from: datetime | None
    min_minutes: float | None
    min_percent: float | None
    day_min_hours: float | None
    period_min_percent: float | None

    def in_force_at(self, moment: datetime) -> bool:
        return self.valid_from is None or self.valid_from <= moment


def in_force(versions: Sequence[RuleVersion], moment: datetime | None) -> RuleVersion | None:
    """The version that held at `moment` (None: the latest) among one scope's versions."""
    held = [v for v in versions if moment is None or v.in_force_at(moment)]
    return max(held, key=lambda v: v.version, default=None)


_COLUMNS = """scope_kind, scope_id, version, valid_from, min_minutes, min_percent, day_min_hours,
period_min_percent"""
SELECT_VERSIONS = f"""
SELECT {_COLUMNS} FROM rule_versions
WHERE org_id = $1 AND scope_kind = $2 AND ($3::text[] IS NULL OR scope_id = ANY($3))
ORDER BY scope_id, version
"""  # noqa: S608 - the column list is ours
# The server's defaults as one more version when they differ from the latest (one node at a
# time: nodes starting together agree on one version).
LOCK_SERVER_RULES = "SELECT pg_advisory_xact_lock(hashtextextended('rule_versions/server', 13))"
RECORD_SERVER_RULES = """
SELECT add_rule_version('', 'server', '', $1, $2, $3, $4)
WHERE (SELECT (min_minutes, min_percent, day_min_hours, period_min_percent)
       FROM rule_versions WHERE org_id = '' AND scope_kind = 'server' AND scope_id = ''
       ORDER BY version DESC LIMIT 1)
      IS DISTINCT FROM ($1::float8, $2::float8, $3::float8, $4::float8)
"""


def _version(row: asyncpg.Record) -> RuleVersion:
    return record_of(RuleVersion, row, scope_kind=RuleScope(row["scope_kind"]))


async def fetch_versions(
    connection: Connection, org_id: str, scope: RuleScope, scope_id: str | None
) -> list[RuleVersion]:
    """Every version of one scope (`scope_id` None: of all the org's of that kind), oldest
    first."""
    return await fetch_versions_of(
        connection, org_id, scope, None if scope_id is None else [scope_id]
    )


async def fetch_versions_of(
    connection: Connection, org_id: str, scope: RuleScope, scope_ids: Sequence[str] | None
) -> list[RuleVersion]:
    """Every version of those scopes of the org's (None: of all of that kind), oldest first."""
    rows = await connection.fetch(SELECT_VERSIONS, org_id, scope.value, scope_ids)
    return [_version(row) for row in rows]


async def fetch_server_versions(connection: Connection) -> list[RuleVersion]:
    return await fetch_versions(connection, SERVER[0], RuleScope.SERVER, SERVER[1])


async def record_server_rules(
    pool: asyncpg.Pool,
    *,
    breakout_min_minutes: float,
    breakout_min_percent: float,
    day_min_hours: float,
    period_min_percent: float,
) -> RuleVersion:
    """Records the server's defaults when they changed since the last start; the version in
    force now."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(LOCK_SERVER_RULES)
        await connection.execute(
            RECORD_SERVER_RULES,
            breakout_min_minutes,
            breakout_min_percent,
            day_min_hours,
            period_min_percent,
        )
        latest = in_force(await fetch_server_versions(connection), None)
    if latest is None:
        raise RuntimeError("the server's rules were not recorded")
    return latest
