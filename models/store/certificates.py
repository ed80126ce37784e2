"""Certificates and the public keys that signed them, in PostgreSQL (migration 0014)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from models.store.database import Connection, record_of

REGISTER_KEY = """
INSERT INTO signing_keys (kid, public_jwk) VALUES ($1, $2::jsonb) ON CONFLICT (kid) DO NOTHING
"""
SELECT_KEYS = "SELECT public_jwk FROM signing_keys ORDER BY first_used, kid"
_COLUMNS = """id, org_id, breakout_id, user_id, issued_at, kid, facts, jws, superseded_by,
revoked_at, revoked_reason"""
SELECT_ONE = f"SELECT {_COLUMNS} FROM certificates WHERE id = $1"  # noqa: S608 - ours
SELECT_CURRENT = f"""
SELECT {_COLUMNS} FROM certificates
WHERE org_id = $1 AND breakout_id = $2 AND user_id = $3
  AND superseded_by IS NULL AND revoked_at IS NULL
"""  # noqa: S608 - the column list is ours
# One issuer at a time per user and breakout: the one current certificate stays one.
LOCK_SUBJECT = "SELECT pg_advisory_xact_lock(hashtextextended($1, 14))"
INSERT = f"""
INSERT INTO certificates (id, org_id, breakout_id, user_id, issued_at, kid, facts, jws)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
RETURNING {_COLUMNS}
"""  # noqa: S608 - the column list is ours
SUPERSEDE = "UPDATE certificates SET superseded_by = $2 WHERE id = $1"
REVOKE = "UPDATE certificates SET revoked_at = $2, revoked_reason = $3 WHERE id = $1"


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    id: str
    org_id: str
    breakout_id: str
    user_id: str
    issued_at: datetime
    kid: str
    facts: dict[str, Any]
    jws: str
    superseded_by: str | None
    revoked_at: datetime | None
    revoked_reason: str | None

    @property
    def status(self) -> str:
        if self.superseded_by is not None:
            return "superseded"
        return "valid" if self.revoked_at is None else "revoked"


def _certificate(row: asyncpg.Record) -> StoredCertificate:
    return record_of(StoredCertificate, row, facts=json.loads(row["facts"]))


async def register_key(connection: Connection, kid: str, public_jwk: dict[str, str]) -> None:
    await connection.execute(REGISTER_KEY, kid, json.dumps(public_jwk))


async def fetch_public_keys(connection: Connection) -> list[dict[str, str]]:
    """Every public key that ever signed here, as JWKs, oldest first."""
    return [json.loads(row["public_jwk"]) for row in await connection.fetch(SELECT_KEYS)]


async def fetch_certificate(
    connection: Connection, certificate_id: str
) -> StoredCertificate | None:
    row = await connection.fetchrow(SELECT_ONE, certificate_id)
    return None if row is None else _certificate(row)


async def fetch_current(
    connection: Connection, org_id: str, breakout_id: str, user_id: str
) -> StoredCertificate | None:
    row = await connection.fetchrow(SELECT_CURRENT, org_id, breakout_id, user_id)
    return None if row is None else _certificate(row)


async def lock_subject(connection: Connection, org_id: str, breakout_id: str, user_id: str) -> None:
    """Within a transaction: waits until no other issuer works on this user and breakout."""
    await connection.execute(LOCK_SUBJECT, f"{org_id}/{breakout_id}/{user_id}")


async def insert_certificate(connection: Connection, made: StoredCertificate) -> StoredCertificate:
    row = await connection.fetchrow(
        INSERT,
        made.id,
        made.org_id,
        made.breakout_id,
        made.user_id,
        made.issued_at,
        made.kid,
        json.dumps(made.facts),
        made.jws,
    )
    if row is None:
        raise RuntimeError("the certificate was not stored")
    return _certificate(row)


async def supersede(connection: Connection, old_id: str, new_id: str) -> None:
    await connection.execute(SUPERSEDE, old_id, new_id)


async def revoke(connection: Connection, certificate_id: str, at: datetime, reason: str) -> None:
    await connection.execute(REVOKE, certificate_id, at, reason)
