"""Certificates and the public keys that signed them, in PostgreSQL (migration 0014)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from models.store.database import Connection, record_of

REGISTER_KEY = """
INSERT INTO signing_keys (kid, public_jwk) VALUES ($1, $2::jsonb) ON CONFLICT (kid) DO NOTHING
"""
SELECT_KEYS = "SELECT public_jwk FROM signing_keys ORDER BY first_used, kid"
_COLUMNS = """id, org_id, place_kind, place_id, user_id, period_from, period_to, issued_at, kid,
facts, jws, superseded_by, revoked_at, revoked_reason"""
SELECT_ONE = f"SELECT {_COLUMNS} FROM certificates WHERE id = $1"  # noqa: S608 - ours
SELECT_CURRENT = f"""
SELECT {_COLUMNS} FROM certificates
WHERE org_id = $1 AND place_kind = $2 AND place_id = $3 AND user_id = $4
  AND period_from IS NOT DISTINCT FROM $5::date AND period_to IS NOT DISTINCT FROM $6::date
  AND superseded_by IS NULL AND revoked_at IS NULL
"""  # noqa: S608 - the column list is ours
# The current school certificates of a user whose period holds the day $5.
SELECT_CURRENT_HOLDING = f"""
SELECT {_COLUMNS} FROM certificates
WHERE org_id = $1 AND place_kind = $2 AND place_id = $3 AND user_id = $4
  AND period_from <= $5::date AND $5::date <= period_to
  AND superseded_by IS NULL AND revoked_at IS NULL
"""  # noqa: S608 - the column list is ours
# One issuer at a time per subject: the one current certificate stays one.
LOCK_SUBJECT = "SELECT pg_advisory_xact_lock(hashtextextended($1, 14))"
INSERT = f"""
INSERT INTO certificates (id, org_id, place_kind, place_id, user_id, period_from, period_to,
                          issued_at, kid, facts, jws)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)
RETURNING {_COLUMNS}
"""  # noqa: S608 - the column list is ours
SUPERSEDE = "UPDATE certificates SET superseded_by = $2 WHERE id = $1"
REVOKE = "UPDATE certificates SET revoked_at = $2, revoked_reason = $3 WHERE id = $1"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a certificate is about: a user at a breakout, or at a school over a period."""

    org_id: str
    place_kind: str  # "breakout" or "school"
    place_id: str
    user_id: str
    period: tuple[date, date] | None = None

    @property
    def key(self) -> str:
        return f"{self.org_id}/{self.place_kind}/{self.place_id}/{self.user_id}/{self.period}"


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    id: str
    subject: Subject
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
    period = None if row["period_from"] is None else (row["period_from"], row["period_to"])
    subject = Subject(row["org_id"], row["place_kind"], row["place_id"], row["user_id"], period)
    return record_of(StoredCertificate, row, subject=subject, facts=json.loads(row["facts"]))


def _subject_args(subject: Subject) -> tuple[object, ...]:
    start, end = subject.period or (None, None)
    return (subject.org_id, subject.place_kind, subject.place_id, subject.user_id, start, end)


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


async def fetch_current(connection: Connection, subject: Subject) -> StoredCertificate | None:
    row = await connection.fetchrow(SELECT_CURRENT, *_subject_args(subject))
    return None if row is None else _certificate(row)


async def fetch_current_holding(
    connection: Connection, org_id: str, school_id: str, user_id: str, day: date
) -> list[StoredCertificate]:
    """The user's current certificates of the school whose period holds `day`."""
    rows = await connection.fetch(SELECT_CURRENT_HOLDING, org_id, "school", school_id, user_id, day)
    return [_certificate(row) for row in rows]


async def lock_subject(connection: Connection, subject: Subject) -> None:
    """Within a transaction: waits until no other issuer works on this subject."""
    await connection.execute(LOCK_SUBJECT, subject.key)


async def insert_certificate(connection: Connection, made: StoredCertificate) -> StoredCertificate:
    row = await connection.fetchrow(
        INSERT,
        made.id,
        *_subject_args(made.subject),
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
