"""Corrections of the record in PostgreSQL (migration 0012): an append-only log of marks and
added stays, each withdrawn at most once, never changed or deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import asyncpg

from models.store.database import Connection, record_of, returned


class PlaceKind(StrEnum):
    BREAKOUT = "breakout"
    SCHOOL = "school"


class CorrectionKind(StrEnum):
    PRESENT = "present"  # counts the user present, whatever the time
    ABSENT = "absent"  # counts the user absent, whatever the time
    STAY = "stay"  # adds a stay the system could not see (breakouts only)


class CorrectionReason(StrEnum):
    EXCUSED = "excused"
    TECHNICAL_PROBLEM = "technical_problem"
    JOINED_BY_PHONE = "joined_by_phone"
    ATTENDED_ELSEWHERE = "attended_elsewhere"
    RECORDED_IN_ERROR = "recorded_in_error"
    OTHER = "other"  # the note must say what


@dataclass(frozen=True, slots=True)
class CorrectionSpec:
    """What the corrector asks for: a mark (with `day` for a school) or a stay's times."""

    user_id: str
    kind: CorrectionKind
    reason: CorrectionReason
    note: str | None = None
    day: date | None = None
    stay_from: datetime | None = None
    stay_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class Correction:
    id: int
    org_id: str
    place_kind: PlaceKind
    place_id: str
    user_id: str
    day: date | None
    kind: CorrectionKind
    reason: CorrectionReason
    note: str | None
    stay_from: datetime | None
    stay_to: datetime | None
    # The mark in force for the same user (and day) when this one was made.
    replaces: int | None
    made_by: str
    made_by_role: str
    made_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawn_reason: str | None
    # A later active mark for the same user (and day) that is in force instead of this one.
    superseded_by: int | None

    @property
    def status(self) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "active" if self.superseded_by is None else "superseded"


_COLUMNS = """
c.id, c.org_id, c.place_kind, c.place_id, c.user_id, c.day, c.kind, c.reason, c.note,
c.stay_from, c.stay_to, c.replaces, c.made_by, c.made_by_role, c.made_at, c.withdrawn_at,
c.withdrawn_by, c.withdrawn_reason,
(SELECT min(later.id) FROM attendance_corrections AS later
 WHERE later.replaces = c.id AND later.withdrawn_at IS NULL) AS superseded_by
"""
# One writer at a time per user (and day) of a place, so that `replaces` names the mark that
# really was in force.
LOCK_TARGET = "SELECT pg_advisory_xact_lock(hashtextextended($1, 12))"
# A new correction; a mark replaces the latest active mark of the same user (and day).
INSERT = f"""
WITH c AS (
    INSERT INTO attendance_corrections (org_id, place_kind, place_id, user_id, day, kind, reason,
                                        note, stay_from, stay_to, replaces, made_by,
                                        made_by_role)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
           CASE WHEN $6 <> 'stay' THEN (
               SELECT id FROM attendance_corrections
               WHERE org_id = $1 AND place_kind = $2 AND place_id = $3 AND user_id = $4
                 AND day IS NOT DISTINCT FROM $5::date AND kind <> 'stay'
                 AND withdrawn_at IS NULL
               ORDER BY id DESC LIMIT 1
           ) END,
           $11, $12
    RETURNING *
)
SELECT {_COLUMNS} FROM c
"""  # noqa: S608 - the column list is ours
WITHDRAW = """
UPDATE attendance_corrections
SET withdrawn_at = clock_timestamp(), withdrawn_by = $3, withdrawn_reason = $4
WHERE org_id = $1 AND id = $2 AND withdrawn_at IS NULL
RETURNING id
"""
SELECT_ONE = f"""
SELECT {_COLUMNS} FROM attendance_corrections AS c WHERE c.org_id = $1 AND c.id = $2
"""  # noqa: S608 - the column list is ours
# The log: an org's corrections (of one place when $2 is given) after the id $4, oldest first.
SELECT_LOG = f"""
SELECT {_COLUMNS} FROM attendance_corrections AS c
WHERE c.org_id = $1 AND ($2::text IS NULL OR (c.place_kind = $2 AND c.place_id = $3))
  AND c.id > $4
ORDER BY c.id
LIMIT $5
"""  # noqa: S608 - the column list is ours


def _correction(row: asyncpg.Record) -> Correction:
    return record_of(
        Correction,
        row,
        place_kind=PlaceKind(row["place_kind"]),
        kind=CorrectionKind(row["kind"]),
        reason=CorrectionReason(row["reason"]),
    )


async def insert_correction(
    connection: Connection,
    org_id: str,
    place: tuple[PlaceKind, str],
    spec: CorrectionSpec,
    made_by: str,
    made_by_role: str,
) -> Correction:
    place_kind, place_id = place
    target = f"{org_id}/{place_kind}/{place_id}/{spec.user_id}/{spec.day}"
    async with connection.transaction():
        await connection.execute(LOCK_TARGET, target)
        row = await connection.fetchrow(
            INSERT,
            org_id,
            place_kind.value,
            place_id,
            spec.user_id,
            spec.day,
            spec.kind.value,
            spec.reason.value,
            spec.note,
            spec.stay_from,
            spec.stay_to,
            made_by,
            made_by_role,
        )
    return _correction(returned(row))


async def fetch_correction(
    connection: Connection, org_id: str, correction_id: int
) -> Correction | None:
    """The org's correction, or None when it has no such one."""
    row = await connection.fetchrow(SELECT_ONE, org_id, correction_id)
    return None if row is None else _correction(row)


async def withdraw_correction(
    connection: Connection, org_id: str, correction_id: int, by: str, reason: str
) -> bool:
    """Withdraws it; False when it was withdrawn already (or is not the org's)."""
    return await connection.fetchval(WITHDRAW, org_id, correction_id, by, reason) is not None


async def fetch_log(
    connection: Connection,
    org_id: str,
    place: tuple[PlaceKind, str] | None,
    after: int,
    limit: int | None,
) -> list[Correction]:
    kind, place_id = (None, None) if place is None else (place[0].value, place[1])
    rows = await connection.fetch(SELECT_LOG, org_id, kind, place_id, after, limit)
    return [_correction(row) for row in rows]
