"""Check-ins and check-outs at schools: one open visit per user, fever alerts, corrections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from models.domain.access import (
    CHANGE_SCHOOLS,
    HOSTS,
    READ_SCHOOLS,
    SCHOOL_READERS,
    SCHOOL_WRITERS,
    require_can_check_in,
    require_role,
)
from models.domain.errors import (
    AlreadyCheckedIn,
    Conflict,
    NotCheckedIn,
    NotFound,
    ValidationFailed,
)
from models.domain.fields import iso_ms
from models.domain.records import Identity, Role
from models.schools.directory import fetch_school
from models.schools.records import (
    CheckEvent,
    CheckEventSpec,
    CheckKind,
    FeverAlert,
    InSchool,
)
from models.store.database import Connection, record_of, returned

# Locks the user's row: two posts for one user at once are taken one after the other.
LOCK_USER = "SELECT school_id FROM school_users WHERE org_id = $1 AND id = $2 FOR UPDATE"
SELECT_OPEN_VISIT = """
SELECT checkin_id, school_id, entry_ts FROM school_visits
WHERE org_id = $1 AND user_id = $2 AND exit_ts IS NULL
"""
INSERT_EVENT = """
INSERT INTO check_events AS e (org_id, school_id, user_id, kind, at, temperature, image,
                               entered_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING e.id, e.school_id, e.user_id, e.kind, e.at, e.temperature, e.image, e.recorded_at,
       e.entered_by
"""
OPEN_VISIT = """
INSERT INTO school_visits (checkin_id, org_id, school_id, user_id, entry_ts)
VALUES ($1, $2, $3, $4, $5)
"""
CLOSE_VISIT = "UPDATE school_visits SET checkout_id = $2, exit_ts = $3 WHERE checkin_id = $1"
REOPEN_VISIT = "UPDATE school_visits SET checkout_id = NULL, exit_ts = NULL WHERE checkout_id = $1"
SELECT_VISIT_OF_CHECKIN = "SELECT checkout_id FROM school_visits WHERE checkin_id = $1"
DELETE_VISIT = "DELETE FROM school_visits WHERE checkin_id = $1"
# An event goes with its fever alert (migration 0016: the alert names it by id alone).
DELETE_EVENT = """
WITH alert AS (DELETE FROM fever_alerts WHERE event_id = $1)
DELETE FROM check_events WHERE id = $1
"""
# Alerts carry the user's name (the user row was locked by the check event's transaction).
INSERT_ALERT = """
WITH a AS (
    INSERT INTO fever_alerts (event_id, org_id, school_id, user_id, temperature, at)
    VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING *
)
SELECT a.id, a.event_id, a.school_id, a.org_id, a.user_id, u.name AS user_name, a.temperature,
       a.at, a.raised_at, a.acknowledged_by, a.acknowledged_at
FROM a LEFT JOIN school_users AS u ON u.org_id = a.org_id AND u.id = a.user_id
"""
# An org's alerts newest first, older than the alert id $3: of one school ($2, or all when NULL),
# only those not yet acknowledged when $4.
SELECT_ALERTS = """
SELECT a.id, a.event_id, a.school_id, a.org_id, a.user_id, u.name AS user_name, a.temperature,
       a.at, a.raised_at, a.acknowledged_by, a.acknowledged_at
FROM fever_alerts AS a
LEFT JOIN school_users AS u ON u.org_id = a.org_id AND u.id = a.user_id
WHERE a.org_id = $1 AND ($2::text IS NULL OR a.school_id = $2) AND a.id < $3
  AND NOT ($4 AND a.acknowledged_at IS NOT NULL)
ORDER BY a.id DESC
LIMIT $5
"""
# The first acknowledgement stands; a second one changes nothing.
ACKNOWLEDGE_ALERT = """
WITH a AS (
    UPDATE fever_alerts
    SET acknowledged_by = coalesce(acknowledged_by, $3),
        acknowledged_at = coalesce(acknowledged_at, $4)
    WHERE org_id = $1 AND id = $2
    RETURNING *
)
SELECT a.id, a.event_id, a.school_id, a.org_id, a.user_id, u.name AS user_name, a.temperature,
       a.at, a.raised_at, a.acknowledged_by, a.acknowledged_at
FROM a LEFT JOIN school_users AS u ON u.org_id = a.org_id AND u.id = a.user_id
"""
SELECT_EVENT = """
SELECT id, school_id, user_id, kind, at, temperature, image, recorded_at, entered_by
FROM check_events WHERE id = $1 AND org_id = $2
"""
# Every filter is optional (NULL); the page continues after the id $6.
SELECT_EVENTS = """
SELECT id, school_id, user_id, kind, at, temperature, image, recorded_at, entered_by
FROM check_events
WHERE org_id = $1
  AND ($2::text IS NULL OR school_id = $2)
  AND ($3::text IS NULL OR user_id = $3)
  AND ($4::timestamptz IS NULL OR at >= $4)
  AND ($5::timestamptz IS NULL OR at < $5)
  AND id > $6
ORDER BY id
LIMIT $7
"""

# Who is checked in at a school now: open visits, oldest first; one open since before the
# school's local today ($3) is a missed check-out, flagged rather than counted as in school.
SELECT_IN_SCHOOL = """
SELECT v.user_id, u.name AS user_name, v.entry_ts AS since,
       v.entry_ts < (date_trunc('day', $3 AT TIME ZONE s.time_zone) AT TIME ZONE s.time_zone)
           AS missed_checkout
FROM school_visits AS v
JOIN schools AS s ON s.org_id = v.org_id AND s.id = v.school_id
LEFT JOIN school_users AS u ON u.org_id = v.org_id AND u.id = v.user_id
WHERE v.org_id = $1 AND v.school_id = $2 AND v.exit_ts IS NULL
ORDER BY v.entry_ts, v.user_id
"""

NO_CURSOR = 2**63 - 1


@dataclass(frozen=True, slots=True)
class EventFilter:
    school_id: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _event(row: asyncpg.Record) -> CheckEvent:
    return record_of(CheckEvent, row, kind=CheckKind(row["kind"]))


def _alert(row: asyncpg.Record) -> FeverAlert:
    return record_of(FeverAlert, row)


class CheckIns:
    """Records check events as visits (check-in to check-out) and raises fever alerts."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        fever_threshold_c: float,
        max_future_s: float,
        own_skew_s: float = 120,
        max_past_days: float = 7,
    ) -> None:
        self._pool = pool
        self._fever_threshold_c = fever_threshold_c
        self._max_future = timedelta(seconds=max_future_s)
        self._own_skew = timedelta(seconds=own_skew_s)
        self._max_past = timedelta(days=max_past_days)

    async def record(
        self, identity: Identity, spec: CheckEventSpec, now: datetime
    ) -> tuple[CheckEvent, FeverAlert | None]:
        """Store the event (a check-in opens a visit, a check-out closes it); alert on fever."""
        require_can_check_in(identity, spec.user_id)
        at = self._when(identity, spec, now)
        async with self._pool.acquire() as connection, connection.transaction():
            await self._require_member(connection, identity, spec)
            visit = await connection.fetchrow(SELECT_OPEN_VISIT, identity.org_id, spec.user_id)
            if spec.kind is CheckKind.CHECKIN and visit is not None:
                raise AlreadyCheckedIn(
                    f"user {spec.user_id} is checked in since {iso_ms(visit['entry_ts'])};"
                    " check out first"
                )
            if spec.kind is CheckKind.CHECKOUT:
                if visit is None or visit["school_id"] != spec.school_id:
                    raise NotCheckedIn(f"user {spec.user_id} is not checked in at this school")
                if at < visit["entry_ts"]:
                    raise ValidationFailed({"timestamp": "is before the user's check-in"})
            event = _event(
                returned(
                    await connection.fetchrow(
                        INSERT_EVENT,
                        identity.org_id,
                        spec.school_id,
                        spec.user_id,
                        spec.kind.value,
                        at,
                        spec.temperature,
                        spec.image,
                        identity.user_id,
                    )
                )
            )
            if visit is None:
                await connection.execute(
                    OPEN_VISIT, event.id, identity.org_id, spec.school_id, spec.user_id, at
                )
            else:
                await connection.execute(CLOSE_VISIT, visit["checkin_id"], event.id, at)
            alert = None
            if spec.temperature >= self._fever_threshold_c:
                alert = _alert(
                    returned(
                        await connection.fetchrow(
                            INSERT_ALERT,
                            event.id,
                            identity.org_id,
                            spec.school_id,
                            spec.user_id,
                            spec.temperature,
                            at,
                        )
                    )
                )
        return event, alert

    def _when(self, identity: Identity, spec: CheckEventSpec, now: datetime) -> datetime:
        """When the event happened. An attendee's own event happens now (their clock may be off
        by OWN_SKEW at most): nobody marks themself present after the fact. An admin may enter
        one that happened up to CHECKIN_MAX_PAST_DAYS ago; the event records who entered it."""
        at = spec.at or now
        if at > now + self._max_future:
            raise ValidationFailed({"timestamp": "is too far in the future"})
        if identity.role is Role.ATTENDEE and abs(at - now) > self._own_skew:
            seconds = self._own_skew.total_seconds()
            raise ValidationFailed(
                {"timestamp": f"your own check-ins take the server's time (within {seconds:g} s)"}
            )
        if at < now - self._max_past:
            raise ValidationFailed({"timestamp": f"is more than {self._max_past.days} days ago"})
        return at

    async def get(self, identity: Identity, event_id: int) -> CheckEvent:
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            return await self._event_of_org(connection, identity, event_id)

    async def list_events(
        self, identity: Identity, wanted: EventFilter, after: int, limit: int
    ) -> list[CheckEvent]:
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                SELECT_EVENTS,
                identity.org_id,
                wanted.school_id,
                wanted.user_id,
                wanted.since,
                wanted.until,
                after,
                limit,
            )
        return [_event(row) for row in rows]

    async def delete(self, identity: Identity, event_id: int) -> None:
        """Take back a mistaken event: a check-out reopens its visit, a check-in removes it."""
        require_role(identity, SCHOOL_WRITERS, CHANGE_SCHOOLS)
        async with self._pool.acquire() as connection, connection.transaction():
            event = await self._event_of_org(connection, identity, event_id)
            await connection.fetchrow(LOCK_USER, identity.org_id, event.user_id)
            if event.kind is CheckKind.CHECKOUT:
                open_visit = await connection.fetchrow(
                    SELECT_OPEN_VISIT, identity.org_id, event.user_id
                )
                if open_visit is not None:
                    raise Conflict("the user has checked in again since; delete that first")
                await connection.execute(REOPEN_VISIT, event.id)
            else:
                if await connection.fetchval(SELECT_VISIT_OF_CHECKIN, event.id) is not None:
                    raise Conflict("this check-in has a check-out; delete the check-out first")
                await connection.execute(DELETE_VISIT, event.id)
            await connection.execute(DELETE_EVENT, event.id)

    async def fever_alerts(
        self,
        identity: Identity,
        school_id: str | None,
        before: int,
        limit: int,
        *,
        unacknowledged: bool = False,
    ) -> list[FeverAlert]:
        """The org's alerts (of one school, or all), newest first, older than the alert id
        `before`; only those nobody acknowledged yet with `unacknowledged`."""
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            if school_id is not None:
                await fetch_school(connection, school_id, identity.org_id)
            rows = await connection.fetch(
                SELECT_ALERTS, identity.org_id, school_id, before, unacknowledged, limit
            )
        return [_alert(row) for row in rows]

    async def in_school(self, identity: Identity, school_id: str, now: datetime) -> list[InSchool]:
        """Who is checked in at the school now, oldest check-in first."""
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            await fetch_school(connection, school_id, identity.org_id)
            rows = await connection.fetch(SELECT_IN_SCHOOL, identity.org_id, school_id, now)
        return [record_of(InSchool, row) for row in rows]

    async def acknowledge(self, identity: Identity, alert_id: int, now: datetime) -> FeverAlert:
        """Mark an alert of the org seen by a host or admin (the first acknowledgement stands)."""
        require_role(identity, HOSTS, "acknowledge fever alerts")
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(
                ACKNOWLEDGE_ALERT, identity.org_id, alert_id, identity.user_id, now
            )
        if row is None:
            raise NotFound(f"fever alert {alert_id} does not exist")
        return _alert(row)

    async def _require_member(
        self, connection: Connection, identity: Identity, spec: CheckEventSpec
    ) -> None:
        try:
            await fetch_school(connection, spec.school_id, identity.org_id)
        except NotFound:
            raise ValidationFailed(
                {"school_id": f"no school {spec.school_id} in this organisation"}
            ) from None
        member_of = await connection.fetchval(LOCK_USER, identity.org_id, spec.user_id)
        if member_of is None:
            raise ValidationFailed({"user_id": f"no user {spec.user_id} in this organisation"})
        if member_of != spec.school_id:
            raise ValidationFailed(
                {"user_id": f"user {spec.user_id} does not belong to school {spec.school_id}"}
            )

    async def _event_of_org(
        self, connection: Connection, identity: Identity, event_id: int
    ) -> CheckEvent:
        row = await connection.fetchrow(SELECT_EVENT, event_id, identity.org_id)
        if row is None:
            raise NotFound(f"attendance {event_id} does not exist")
        return _event(row)
