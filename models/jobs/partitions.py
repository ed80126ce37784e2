"""The time partitions of the record: made ahead, and rows outside them reported."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from config import PartitionInterval
from models.store.database import Connection

logger = logging.getLogger(__name__)

# What retention purges by partition, and the time each is partitioned on: a session's record
# and the breakouts' daily rollups made of it (migrations 0016, 0017).
RETAINED: tuple[tuple[str, str], ...] = (
    ("attendance_sessions", "entry_ts"),
    ("session_interruptions", "left_at"),
    ("session_activity", "at"),
    ("comments", "created_at"),
    ("presence_daily_breakouts", "day"),
)
# Every partitioned table: also the check events, the school's own record, kept by its admins
# (README "Security").
PARTITIONED = (*RETAINED, ("check_events", "at"))
# Every node checks hourly (and at start): a few hours is far less than the smallest interval.
MAINTAIN_EVERY_S = 3_600.0

CREATE_PARTITIONS = "SELECT create_time_partitions($1, $2, $3, $4, $5)"
SELECT_DEFAULT_ROWS = "SELECT parent, rows FROM default_partition_rows()"
SELECT_PARTITIONS = """
SELECT parent, partition, is_default, lower, upper,
       pg_total_relation_size(partition::regclass) AS bytes
FROM time_partitions
ORDER BY parent, is_default, lower NULLS FIRST
"""

_UNIT_DAYS = {PartitionInterval.DAY: 1, PartitionInterval.WEEK: 7, PartitionInterval.MONTH: 31}


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What one round did: the partitions it made, and the rows each default partition holds."""

    made: list[str]
    default_rows: dict[str, int]


async def create_partitions(
    connection: Connection,
    interval: PartitionInterval,
    since: datetime,
    until: datetime,
) -> list[str]:
    """Make every table's partitions over [since, until) (those missing); return their names."""
    made: list[str] = []
    for table, column in PARTITIONED:
        made += await connection.fetchval(
            CREATE_PARTITIONS, table, column, interval.value, since, until
        )
    return made


async def maintain_partitions(
    connection: Connection, interval: PartitionInterval, ahead: int, now: datetime
) -> Maintenance:
    """The current partition and `ahead` more of each table exist (rows of their ranges the
    default partition caught move into them); rows left in a default partition are reported."""
    span = timedelta(days=_UNIT_DAYS[interval])
    made = await create_partitions(connection, interval, now, now + span * (ahead + 1))
    default_rows = {
        row["parent"]: row["rows"] for row in await connection.fetch(SELECT_DEFAULT_ROWS)
    }
    for name in made:
        logger.info("partitions: made %s", name)
    for table, rows in default_rows.items():
        if rows:
            logger.warning(
                "partitions: %d rows of %s fall outside every partition (in %s_default): "
                'make partitions for their times (README "Partitions")',
                rows,
                table,
                table,
            )
    return Maintenance(made=made, default_rows=default_rows)
