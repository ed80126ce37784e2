"""Forward-only SQL migrations from models/migrations, applied once each under an advisory lock."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from models.store.database import Connection

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed number; every node that starts at once waits on it instead of racing.
_LOCK_KEY = 71402024

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version FROM schema_migrations"
RECORD_APPLIED = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
LOCK = "SELECT pg_advisory_lock($1)"
UNLOCK = "SELECT pg_advisory_unlock($1)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if match is None:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError("two migrations share a version number")
    return found


async def apply_migrations(
    connection: Connection, directory: Path = MIGRATIONS_DIR
) -> list[Migration]:
    """Apply every migration not yet recorded, each in its own transaction; return them."""
    await connection.execute(LOCK, _LOCK_KEY)
    try:
        await connection.execute(CREATE_LEDGER)
        applied = {row["version"] for row in await connection.fetch(SELECT_APPLIED)}
        done = []
        for migration in available_migrations(directory):
            if migration.version in applied:
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(RECORD_APPLIED, migration.version, migration.name)
            logger.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration)
        return done
    finally:
        await connection.execute(UNLOCK, _LOCK_KEY)
