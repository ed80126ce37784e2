"""What analysts and admins read: sessions, school attendance and breakout attendance reports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from models.access import (
    READ_SCHOOLS,
    SCHOOL_READERS,
    SESSION_READERS,
    require_can_read_sessions,
    require_role,
)
from models.breakouts import BreakoutDirectory
from models.errors import InvalidPayload
from models.presence_rules import (
    BreakoutPolicy,
    Period,
    PeriodFigures,
    PresenceRules,
    aggregate_presence,
    breakout_policy,
    period_end,
    period_start,
)
from models.records import AttendanceSession, Breakout, Identity, School
from models.rollups import DailyPresence, fetch_daily_presence
from models.schools import fetch_school
from models.sessions import fetch_breakout_sessions

MAX_REPORT_DAYS = 366

SELECT_SCHOOL_USERS = "SELECT id FROM school_users WHERE school_id = $1"
# In the school now: a visit still open that began today (one left open since an earlier day
# is a missed check-out, not presence).
SELECT_CHECKED_IN = """
SELECT user_id FROM school_visits
WHERE school_id = $1 AND exit_ts IS NULL AND entry_ts >= $2 AND entry_ts <= $3
"""
SELECT_FIRST_ENTRY = "SELECT min(entry_ts) FROM attendance_sessions WHERE breakout_id = $1"
SELECT_BREAKOUT_USERS = """
SELECT DISTINCT ON (user_id) user_id, user_name FROM attendance_sessions
WHERE breakout_id = $1 ORDER BY user_id, entry_ts DESC
"""
SELECT_OPEN_COUNTS = """
SELECT user_id, count(*) AS open FROM attendance_sessions
WHERE breakout_id = $1 AND exit_ts IS NULL GROUP BY user_id
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
    periods: list[PeriodFigures]


@dataclass(frozen=True, slots=True)
class UserAttendance:
    """One user's attendance of one breakout (overlapping sessions counted once)."""

    user_id: str
    user_name: str | None
    first_join: datetime | None
    last_leave: datetime | None
    seconds: float
    sessions: int
    open_sessions: int
    percent: float | None
    present: bool


@dataclass(frozen=True, slots=True)
class BreakoutReport:
    breakout: Breakout
    policy: BreakoutPolicy
    users: list[UserAttendance]

    @property
    def present(self) -> int:
        return sum(user.present for user in self.users)


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
        raise InvalidPayload("from is after to")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise InvalidPayload(f"a report spans at most {MAX_REPORT_DAYS} days")


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
            users = [row["id"] for row in await connection.fetch(SELECT_SCHOOL_USERS, school_id)]
            in_now = {
                row["user_id"]
                for row in await connection.fetch(SELECT_CHECKED_IN, school_id, midnight, now)
            }
            daily = await fetch_daily_presence(
                connection,
                place_kind="school",
                place_ids=[school_id],
                first=first,
                last=last,
                today=today,
                now=now,
                count_open=True,
            )
        rules = PresenceRules(
            day_min_seconds=self._day_min_seconds,
            period_min_ratio=self._period_min_ratio,
            school_days=frozenset(school.school_days),
        )
        figures = aggregate_presence(
            users=users,
            seconds={(row.user_id, row.day): row.seconds for row in daily},
            in_now=in_now,
            first=first,
            last=last,
            today=today,
            period=period,
            rules=rules,
        )
        return SchoolReport(school, first, last, period, rules, figures)

    async def breakout_attendance(
        self, identity: Identity, breakout_id: str, now: datetime
    ) -> BreakoutReport:
        """Per user: first join, last leave, attended time, sessions, share, present or not."""
        breakout = await self._breakouts.get(breakout_id)
        require_can_read_sessions(identity, breakout)
        async with self._pool.acquire() as connection:
            first_entry = await connection.fetchval(SELECT_FIRST_ENTRY, breakout.id)
            if first_entry is None:
                return BreakoutReport(breakout, self._breakout_rules.policy(breakout), [])
            today = now.astimezone(UTC).date()
            daily = await fetch_daily_presence(
                connection,
                place_kind="breakout",
                place_ids=[breakout.id],
                first=first_entry.astimezone(UTC).date(),
                last=max(today, first_entry.astimezone(UTC).date()),
                today=today,
                now=now,
                count_open=False,
            )
            names: dict[str, str | None] = {
                row["user_id"]: row["user_name"]
                for row in await connection.fetch(SELECT_BREAKOUT_USERS, breakout.id)
            }
            open_counts: dict[str, int] = {
                row["user_id"]: row["open"]
                for row in await connection.fetch(SELECT_OPEN_COUNTS, breakout.id)
            }
        policy = self._breakout_rules.policy(breakout)
        scheduled = breakout.scheduled_seconds
        by_user: dict[str, list[DailyPresence]] = defaultdict(list)
        for row in daily:
            by_user[row.user_id].append(row)
        users = []
        for user_id in sorted(names):
            days = by_user.get(user_id, [])
            seconds = sum(row.seconds for row in days)
            users.append(
                UserAttendance(
                    user_id=user_id,
                    user_name=names[user_id],
                    first_join=min((row.first_in for row in days), default=None),
                    last_leave=max((row.last_out for row in days), default=None),
                    seconds=seconds,
                    sessions=sum(row.entries for row in days),
                    open_sessions=open_counts.get(user_id, 0),
                    percent=round(100 * seconds / scheduled, 2) if scheduled else None,
                    present=policy.present(seconds, scheduled),
                )
            )
        return BreakoutReport(breakout, policy, users)

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
            daily = await fetch_daily_presence(
                connection,
                place_kind="breakout",
                place_ids=list(breakouts),
                first=first,
                last=last,
                today=now.astimezone(UTC).date(),
                now=now,
                count_open=False,
            )
        seconds: dict[date, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
        for row in daily:
            seconds[period_start(row.day, period)][(row.place_id, row.user_id)] += row.seconds
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
