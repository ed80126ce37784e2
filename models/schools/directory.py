"""Schools and their users: the org's admins change them, its staff read them."""

from __future__ import annotations

import secrets

import asyncpg

from models.domain.access import (
    CHANGE_SCHOOLS,
    READ_SCHOOLS,
    SCHOOL_READERS,
    SCHOOL_WRITERS,
    require_role,
)
from models.domain.errors import Conflict, NotFound, ValidationFailed
from models.domain.records import Identity, org_place
from models.schools.records import School, SchoolSpec, SchoolUser, SchoolUserSpec
from models.store.database import Connection, record_of, returned

_SCHOOL = """id, org_id, name, time_zone, school_days, day_min_hours, period_min_percent,
created_at, updated_at"""
SELECT_SCHOOL = f"""
SELECT {_SCHOOL}
FROM schools WHERE id = $1 AND org_id = $2
"""  # noqa: S608 - the column list is ours
SELECT_SCHOOLS = f"""
SELECT {_SCHOOL}
FROM schools WHERE org_id = $1 AND id > $2
ORDER BY id
LIMIT $3
"""  # noqa: S608 - the column list is ours
INSERT_SCHOOL = f"""
INSERT INTO schools (id, org_id, name, time_zone, school_days, day_min_hours, period_min_percent)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (org_id, id) DO NOTHING
RETURNING {_SCHOOL}
"""  # noqa: S608 - the column list is ours
# NULL keeps a field as it is; a threshold changes when its flag ($6, $8) says it was given.
UPDATE_SCHOOL = f"""
UPDATE schools
SET name = coalesce($3, name), time_zone = coalesce($4, time_zone),
    school_days = coalesce($5, school_days),
    day_min_hours = CASE WHEN $6 THEN $7 ELSE day_min_hours END,
    period_min_percent = CASE WHEN $8 THEN $9 ELSE period_min_percent END,
    updated_at = now()
WHERE id = $1 AND org_id = $2
RETURNING {_SCHOOL}
"""  # noqa: S608 - the column list is ours
# A school's days are local to its time zone: a new zone redoes every day it has (the days
# a visit can count on: at most 8 after it began, as presence_by_day looks for them). $1 is
# the school's place, $2 its org, $3 its id, $4 its new zone.
RESET_SCHOOL_ROLLUPS = """
WITH dropped AS (
    DELETE FROM presence_daily WHERE place_kind = 'school' AND place_id = $1
)
INSERT INTO presence_daily_stale (place_kind, place_id, day)
SELECT DISTINCT 'school', $1, d::date
FROM school_visits AS v,
     generate_series(date_trunc('day', v.entry_ts AT TIME ZONE $4),
                     least(date_trunc('day', coalesce(v.exit_ts, v.entry_ts) AT TIME ZONE $4),
                           date_trunc('day', v.entry_ts AT TIME ZONE $4) + interval '8 days'),
                     interval '1 day') AS d
WHERE v.org_id = $2 AND v.school_id = $3
ON CONFLICT DO NOTHING
"""
IS_TIME_ZONE = "SELECT is_time_zone($1)"
SCHOOL_HAS_USERS = "SELECT EXISTS (SELECT FROM school_users WHERE org_id = $1 AND school_id = $2)"
DELETE_SCHOOL = "DELETE FROM schools WHERE id = $1 AND org_id = $2"

SELECT_USER = """
SELECT id, school_id, name, email, created_at, updated_at
FROM school_users WHERE id = $1 AND org_id = $2
"""
# $3: one school, or NULL for all of the org's.
SELECT_USERS = """
SELECT id, school_id, name, email, created_at, updated_at
FROM school_users
WHERE org_id = $1 AND id > $2 AND ($3::text IS NULL OR school_id = $3)
ORDER BY id
LIMIT $4
"""
INSERT_USER = """
INSERT INTO school_users AS u (org_id, id, school_id, name, email) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (org_id, id) DO NOTHING
RETURNING u.id, u.school_id, u.name, u.email, u.created_at, u.updated_at
"""
# NULL keeps a field as it is; the email changes only when $6 says it was sent.
UPDATE_USER = """
UPDATE school_users AS u
SET school_id = coalesce($3, u.school_id), name = coalesce($4, u.name),
    email = CASE WHEN $6 THEN $5 ELSE u.email END, updated_at = now()
WHERE u.org_id = $1 AND u.id = $2
RETURNING u.id, u.school_id, u.name, u.email, u.created_at, u.updated_at
"""
# Erasure: a user's check events, visits and alerts go with them (the visit trigger marks
# their days stale, so rollups forget them too).
DELETE_USER_VISITS = "DELETE FROM school_visits WHERE org_id = $1 AND user_id = $2"
# Alerts go with their events.
DELETE_USER_EVENTS = "DELETE FROM check_events WHERE org_id = $1 AND user_id = $2"
DELETE_USER_ROW = "DELETE FROM school_users WHERE org_id = $1 AND id = $2"


# A user to import: how to name it in an error, its id (None: a new one), what it is.
ImportedUser = tuple[str, str | None, SchoolUserSpec]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _school(row: asyncpg.Record) -> School:
    return record_of(School, row, school_days=tuple(row["school_days"]))


def _user(row: asyncpg.Record) -> SchoolUser:
    return record_of(SchoolUser, row)


async def _require_known_zone(connection: Connection, zone: str | None) -> None:
    """Python and PostgreSQL know different zone names (right/UTC, posixrules, localtime):
    a school's days are cut in PostgreSQL, so its zone must be one PostgreSQL knows."""
    if zone is not None and not await connection.fetchval(IS_TIME_ZONE, zone):
        raise ValidationFailed({"time_zone": "must be an IANA time zone such as Europe/Madrid"})


async def fetch_school(connection: Connection, school_id: str, org_id: str) -> School:
    row = await connection.fetchrow(SELECT_SCHOOL, school_id, org_id)
    if row is None:
        raise NotFound(f"school {school_id} does not exist")
    return _school(row)


async def fetch_school_user(connection: Connection, org_id: str, user_id: str) -> SchoolUser | None:
    row = await connection.fetchrow(SELECT_USER, user_id, org_id)
    return None if row is None else _user(row)


class Schools:
    """The school directory of every org, behind the role and tenant checks."""

    def __init__(self, pool: asyncpg.Pool, *, default_school_days: tuple[int, ...]) -> None:
        self._pool = pool
        self._default_school_days = default_school_days

    async def list_schools(self, identity: Identity, after: str, limit: int) -> list[School]:
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SELECT_SCHOOLS, identity.org_id, after, limit)
        return [_school(row) for row in rows]

    async def get(self, identity: Identity, school_id: str) -> School:
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            return await fetch_school(connection, school_id, identity.org_id)

    async def create(self, identity: Identity, school_id: str | None, spec: SchoolSpec) -> School:
        require_role(identity, SCHOOL_WRITERS, CHANGE_SCHOOLS)
        async with self._pool.acquire() as connection:
            await _require_known_zone(connection, spec.time_zone)
            row = await connection.fetchrow(
                INSERT_SCHOOL,
                school_id or new_id("sch"),
                identity.org_id,
                spec.name,
                spec.time_zone or "UTC",
                list(spec.school_days or self._default_school_days),
                spec.day_min_hours,
                spec.period_min_percent,
            )
        if row is None:
            raise Conflict(f"school {school_id} exists already")
        return _school(row)

    async def update(self, identity: Identity, school_id: str, spec: SchoolSpec) -> School:
        require_role(identity, SCHOOL_WRITERS, CHANGE_SCHOOLS)
        days = None if spec.school_days is None else list(spec.school_days)
        async with self._pool.acquire() as connection, connection.transaction():
            before = await fetch_school(connection, school_id, identity.org_id)
            await _require_known_zone(connection, spec.time_zone)
            row = await connection.fetchrow(
                UPDATE_SCHOOL,
                school_id,
                identity.org_id,
                spec.name,
                spec.time_zone,
                days,
                spec.day_min_hours_given,
                spec.day_min_hours,
                spec.period_min_percent_given,
                spec.period_min_percent,
            )
            updated = _school(returned(row))
            if updated.time_zone != before.time_zone:
                await connection.execute(
                    RESET_SCHOOL_ROLLUPS,
                    org_place(identity.org_id, school_id),
                    identity.org_id,
                    school_id,
                    updated.time_zone,
                )
        return updated

    async def delete(self, identity: Identity, school_id: str) -> None:
        require_role(identity, SCHOOL_WRITERS, CHANGE_SCHOOLS)
        async with self._pool.acquire() as connection, connection.transaction():
            await fetch_school(connection, school_id, identity.org_id)
            if await connection.fetchval(SCHOOL_HAS_USERS, identity.org_id, school_id):
                raise Conflict("the school still has users; delete or move them first")
            await connection.execute(DELETE_SCHOOL, school_id, identity.org_id)

    async def list_users(
        self, identity: Identity, school_id: str | None, after: str, limit: int
    ) -> list[SchoolUser]:
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SELECT_USERS, identity.org_id, after, school_id, limit)
        return [_user(row) for row in rows]

    async def get_user(self, identity: Identity, user_id: str) -> SchoolUser:
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            return await self._user_of_org(connection, identity, user_id)

    async def create_user(
        self, identity: Identity, user_id: str | None, spec: SchoolUserSpec
    ) -> SchoolUser:
        require_role(identity, SCHOOL_WRITERS, CHANGE_SCHOOLS)
        async with self._pool.acquire() as connection, connection.transaction():
            await self._school_of_org(connection, identity, spec.school_id)
            row = await connection.fetchrow(
                INSERT_USER,
                identity.org_id,
                user_id or new_id("usr"),
                spec.school_id,
                spec.name,
                spec.email,
            )
        if row is None:
            raise Conflict(f"user {user_id} exists already")
        return _user(row)

    async def import_users(
        self, identity: Identity, school_id: str, users: list[ImportedUser]
    ) -> list[SchoolUser]:
        """Create every user of the list in one transaction: an id the org already uses refuses
        the whole import, naming each such by its label (say, its line in a file)."""
        require_role(identity, SCHOOL_WRITERS, CHANGE_SCHOOLS)
        created, taken = [], {}
        async with self._pool.acquire() as connection, connection.transaction():
            await self._school_of_org(connection, identity, school_id)
            for label, user_id, spec in users:
                row = await connection.fetchrow(
                    INSERT_USER,
                    identity.org_id,
                    user_id or new_id("usr"),
                    school_id,
                    spec.name,
                    spec.email,
                )
                if row is None:
                    taken[label] = f"id: {user_id} exists already"
                else:
                    created.append(_user(row))
            if taken:
                raise ValidationFailed(taken)  # rolls the transaction back
        return created

    async def update_user(
        self, identity: Identity, user_id: str, spec: SchoolUserSpec
    ) -> SchoolUser:
        require_role(identity, SCHOOL_WRITERS, CHANGE_SCHOOLS)
        async with self._pool.acquire() as connection, connection.transaction():
            await self._user_of_org(connection, identity, user_id)
            if spec.school_id is not None:
                await self._school_of_org(connection, identity, spec.school_id)
            row = await connection.fetchrow(
                UPDATE_USER,
                identity.org_id,
                user_id,
                spec.school_id,
                spec.name,
                spec.email,
                spec.email_given,
            )
        return _user(returned(row))

    async def delete_user(self, identity: Identity, user_id: str) -> None:
        require_role(identity, SCHOOL_WRITERS, CHANGE_SCHOOLS)
        async with self._pool.acquire() as connection, connection.transaction():
            await self._user_of_org(connection, identity, user_id)
            for statement in (DELETE_USER_VISITS, DELETE_USER_EVENTS, DELETE_USER_ROW):
                await connection.execute(statement, identity.org_id, user_id)

    async def _user_of_org(
        self, connection: Connection, identity: Identity, user_id: str
    ) -> SchoolUser:
        found = await fetch_school_user(connection, identity.org_id, user_id)
        if found is None:
            raise NotFound(f"user {user_id} does not exist")
        return found

    async def _school_of_org(
        self, connection: Connection, identity: Identity, school_id: str | None
    ) -> None:
        row = await connection.fetchrow(SELECT_SCHOOL, school_id, identity.org_id)
        if row is None:
            raise ValidationFailed({"school_id": f"no school {school_id} in this organisation"})
