"""What analysts and admins read: sessions, school attendance and breakout attendance reports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from models.domain.access import (
    READ_SCHOOLS,
    SCHOOL_READERS,
    SESSION_READERS,
    require_can_read_sessions,
    require_role,
)
from models.domain.errors import ValidationFailed
from models.domain.records import AttendanceSession, Breakout, Identity
from models.reports.rules import (
    BreakoutPolicy,
    Period,
    PeriodFigures,
    PresenceRules,
    UserDays,
    aggregate_presence,
    breakout_policy,
    period_end,
)
from models.schools.directory import fetch_school
from models.schools.records import School
from models.store.breakouts import BreakoutDirectory
from models.store.sessions import fetch_breakout_sessions

MAX_REPORT_DAYS = 366

SELECT_SCHOOL_USERS = "SELECT id, name FROM school_users WHERE school_id = $1"
# In the school now: a visit still open that began today (one left open since an earlier day
# is a missed check-out, not presence).
SELECT_CHECKED_IN = """
SELECT user_id FROM school_visits
WHERE school_id = $1 AND exit_ts IS NULL AND entry_ts >= $2 AND entry_ts <= $3
"""
# Each user's days per period (date_trunc: ISO weeks, calendar months), summed where they are;
# a day is present when it reaches $6 seconds, or (today, $4) when the user is in now ($8).
# presence_days() (migration 0003) reads rollups and computes stale days live.
SELECT_SCHOOL_PERIODS = """
WITH day_rule AS (
    SELECT d.user_id, d.day, d.seconds,
           d.seconds >= $6 OR (d.day = $4 AND d.user_id = ANY($8::text[])) AS present
    FROM presence_days('school', ARRAY[$1::text], $2, $3, $5, true) AS d
)
SELECT user_id, date_trunc($7, day::timestamp)::date AS period, sum(seconds) AS seconds,
       count(*) FILTER (WHERE present) AS present_days,
       count(*) FILTER (WHERE present AND extract(isodow FROM day)::int = ANY($9::int[]))
           AS present_school_days
FROM day_rule
GROUP BY 1, 2
"""
SELECT_FIRST_ENTRY = "SELECT min(entry_ts) FROM attendance_sessions WHERE breakout_id = $1"
# Per user: attended live time (closed sessions, overlaps once), sessions, first join, last
# leave, time watching the recording, and sessions still open; one page of users from after
# $5, with totals over all of them. $6: the seconds the breakout's rule requires
# (BreakoutPolicy.required_seconds).
SELECT_BREAKOUT_ATTENDANCE = """
WITH attended AS (
    SELECT d.user_id, max(d.user_name) AS user_name, sum(d.seconds) AS seconds,
           sum(d.entries)::integer AS sessions, min(d.first_in) AS first_join,
           max(d.last_out) AS last_leave
    FROM presence_days('breakout', ARRAY[$1::text], $2, $3, $4, false) AS d
    GROUP BY d.user_id
),
watched AS (
    SELECT d.user_id, max(d.user_name) AS user_name, sum(d.seconds) AS seconds,
           sum(d.entries)::integer AS sessions
    FROM presence_days('recording', ARRAY[$1::text], $2, $3, $4, false) AS d
    GROUP BY d.user_id
),
still_in AS (
    SELECT user_id, max(user_name) AS user_name, count(*)::integer AS open_sessions
    FROM attendance_sessions WHERE breakout_id = $1 AND exit_ts IS NULL
    GROUP BY user_id
),
everyone AS (
    SELECT coalesce(a.user_id, w.user_id, o.user_id) AS user_id,
           coalesce(a.user_name, w.user_name, o.user_name) AS user_name,
           coalesce(a.seconds, 0) AS seconds, coalesce(a.sessions, 0) AS sessions,
           a.first_join, a.last_leave, coalesce(w.seconds, 0) AS on_demand_seconds,
           coalesce(w.sessions, 0) AS on_demand_sessions,
           coalesce(o.open_sessions, 0) AS open_sessions
    FROM attended AS a
    FULL JOIN watched AS w ON w.user_id = a.user_id
    FULL JOIN still_in AS o ON o.user_id = coalesce(a.user_id, w.user_id)
),
totals AS (
    SELECT count(*) AS users, count(*) FILTER (WHERE seconds > 0 AND seconds >= $6) AS present
    FROM everyone
)
SELECT t.users, t.present AS present_users, p.*
FROM totals AS t
LEFT JOIN LATERAL (
    SELECT * FROM everyone WHERE user_id > $5 ORDER BY user_id LIMIT $7
) AS p ON true
"""
# Per period, breakout and user: attended time in that period.
SELECT_ORG_BREAKOUT_PERIODS = """
SELECT date_trunc($5, d.day::timestamp)::date AS period, d.place_id, d.user_id,
       sum(d.seconds) AS seconds
FROM presence_days('breakout', $1::text[], $2, $3, $4, false) AS d
GROUP BY 1, 2, 3
"""
SELECT_ORG_BREAKOUTS = """
SELECT id, name, starts_at, ends_at, present_min_minutes, present_min_percent
FROM breakouts WHERE org_id = $1
"""


@dataclass(frozen=True, slots=True)
class BreakoutRules:
    """The server's default presence rule for breakouts that set none."""

    min_minutes: float
    min_percent: float

    def policy(self, breakout: Breakout) -> BreakoutPolicy:
        return breakout_policy(
            breakout.present_min_minutes,
            breakout.present_min_percent,
            default_minutes=self.min_minutes,
            default_percent=self.min_percent,
            scheduled=bool(breakout.scheduled_seconds),
        )


@dataclass(frozen=True, slots=True)
class SchoolReport:
    school: School
    first: date
    last: date
    period: Period
    rules: PresenceRules
    # Every user of the school by id, with their name.
    names: dict[str, str]
    periods: list[PeriodFigures]


@dataclass(frozen=True, slots=True)
class UserAttendance:
    """One user's attendance of one breakout (overlapping sessions counted once).

    `seconds` and `sessions` are live; watching the recording is counted apart and never makes
    a user present."""

    user_id: str
    user_name: str | None
    first_join: datetime | None
    last_leave: datetime | None
    seconds: float
    sessions: int
    on_demand_seconds: float
    on_demand_sessions: int
    open_sessions: int
    percent: float | None
    present: bool


@dataclass(frozen=True, slots=True)
class BreakoutReport:
    """A page of the breakout's users (by id) and the totals over all of them."""

    breakout: Breakout
    policy: BreakoutPolicy
    total_users: int
    present: int
    users: list[UserAttendance]


@dataclass(frozen=True, slots=True)
class BreakoutPeriod:
    """An org's breakouts over one day, week or month: who met each breakout's rule."""

    start: date
    end: date
    breakouts: int
    attendees: int
    present: int
    absent: int
    per_breakout: dict[str, tuple[int, int]]


def report_range(first: date, last: date) -> None:
    if first > last:
        raise ValidationFailed({"to": "is before from"})
    if (last - first).days >= MAX_REPORT_DAYS:
        raise ValidationFailed({"to": f"a report spans at most {MAX_REPORT_DAYS} days"})


class Reports:
    """Read-only reports over sessions, visits and their daily rollups."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        breakouts: BreakoutDirectory,
        *,
        day_min_seconds: float,
        period_min_ratio: float,
        breakout_rules: BreakoutRules,
    ) -> None:
        self._pool = pool
        self._breakouts = breakouts
        self._day_min_seconds = day_min_seconds
        self._period_min_ratio = period_min_ratio
        self._breakout_rules = breakout_rules

    async def breakout_sessions(
        self, identity: Identity, breakout_id: str
    ) -> list[AttendanceSession]:
        """Every session of the breakout in entry order, for its org's analysts, hosts, admins."""
        breakout = await self._breakouts.get(breakout_id)
        require_can_read_sessions(identity, breakout)
        async with self._pool.acquire() as connection:
            return await fetch_breakout_sessions(connection, breakout.id)

    async def school_attendance(
        self,
        identity: Identity,
        school_id: str,
        *,
        first: date,
        last: date,
        period: Period,
        now: datetime,
        detail: bool,
    ) -> SchoolReport:
        """Present and absent users of the school per day, week or month, in its time zone."""
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        report_range(first, last)
        async with self._pool.acquire() as connection:
            school = await fetch_school(connection, school_id, identity.org_id)
            zone = ZoneInfo(school.time_zone)
            local_now = now.astimezone(zone)
            today = local_now.date()
            midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
            names = {
                row["id"]: row["name"]
                for row in await connection.fetch(SELECT_SCHOOL_USERS, school_id)
            }
            in_now = {
                row["user_id"]
                for row in await connection.fetch(SELECT_CHECKED_IN, school_id, midnight, now)
            }
            rules = PresenceRules(
                day_min_seconds=self._day_min_seconds,
                period_min_ratio=self._period_min_ratio,
                school_days=frozenset(school.school_days),
            )
            rows = await connection.fetch(
                SELECT_SCHOOL_PERIODS,
                school_id,
                first,
                last,
                today,
                now,
                rules.day_min_seconds,
                period.value,
                list(in_now),
                sorted(rules.school_days),
            )
        days = {
            (row["user_id"], row["period"]): UserDays(
                row["seconds"], row["present_days"], row["present_school_days"]
            )
            for row in rows
        }
        figures = aggregate_presence(
            users=sorted(names),
            days=days,
            first=first,
            last=last,
            today=today,
            period=period,
            rules=rules,
            detail=detail,
        )
        return SchoolReport(school, first, last, period, rules, names, figures)

    async def breakout_attendance(
        self, identity: Identity, breakout_id: str, now: datetime, after: str, limit: int | None
    ) -> BreakoutReport:
        """Per user: first join, last leave, attended time, sessions, share, present or not.

        Users come by id, `limit` at a time (None: all) after the id `after`.
        """
        breakout = await self._breakouts.get(breakout_id)
        require_can_read_sessions(identity, breakout)
        policy = self._breakout_rules.policy(breakout)
        scheduled = breakout.scheduled_seconds
        today = now.astimezone(UTC).date()
        async with self._pool.acquire() as connection:
            first_entry = await connection.fetchval(SELECT_FIRST_ENTRY, breakout.id)
            if first_entry is None:
                return BreakoutReport(breakout, policy, 0, 0, [])
            rows = await connection.fetch(
                SELECT_BREAKOUT_ATTENDANCE,
                breakout.id,
                min(first_entry.astimezone(UTC).date(), today),
                today,
                now,
                after,
                policy.required_seconds(scheduled),
                limit,
            )
        users = [
            UserAttendance(
                user_id=row["user_id"],
                user_name=row["user_name"],
                first_join=row["first_join"],
                last_leave=row["last_leave"],
                seconds=row["seconds"],
                sessions=row["sessions"],
                on_demand_seconds=row["on_demand_seconds"],
                on_demand_sessions=row["on_demand_sessions"],
                open_sessions=row["open_sessions"],
                percent=round(100 * row["seconds"] / scheduled, 2) if scheduled else None,
                present=policy.present(row["seconds"], scheduled),
            )
            for row in rows
            if row["user_id"] is not None
        ]
        return BreakoutReport(breakout, policy, rows[0]["users"], rows[0]["present_users"], users)

    async def org_breakouts(
        self, identity: Identity, *, first: date, last: date, period: Period, now: datetime
    ) -> list[BreakoutPeriod]:
        """Per period (UTC days): the org's breakouts held, attendees, present and absent.

        A user is present at a breakout of the period when their time in it during the period
        meets the breakout's rule, and absent when they joined but fell short.
        """
        require_role(identity, SESSION_READERS, "read attendance reports")
        report_range(first, last)
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SELECT_ORG_BREAKOUTS, identity.org_id)
            breakouts = {
                row["id"]: Breakout(org_id=identity.org_id, ended_at=None, **dict(row))
                for row in rows
            }
            rows = await connection.fetch(
                SELECT_ORG_BREAKOUT_PERIODS,
                list(breakouts),
                first,
                last,
                now,
                period.value,
            )
        seconds: dict[date, dict[tuple[str, str], float]] = defaultdict(dict)
        for row in rows:
            seconds[row["period"]][(row["place_id"], row["user_id"])] = row["seconds"]
        periods = []
        for start in sorted(seconds):
            per_breakout: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for (breakout_id, _user), total in seconds[start].items():
                breakout = breakouts[breakout_id]
                policy = self._breakout_rules.policy(breakout)
                per_breakout[breakout_id][
                    0 if policy.present(total, breakout.scheduled_seconds) else 1
                ] += 1
            present = sum(counts[0] for counts in per_breakout.values())
            absent = sum(counts[1] for counts in per_breakout.values())
            periods.append(
                BreakoutPeriod(
                    start=max(start, first),
                    end=min(period_end(start, period), last),
                    breakouts=len(per_breakout),
                    attendees=len({user for _, user in seconds[start]}),
                    present=present,
                    absent=absent,
                    per_breakout={key: (value[0], value[1]) for key, value in per_breakout.items()},
                )
            )
        return periods
