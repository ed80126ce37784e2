"""Who counts as present: per day, per week or month, and per breakout, from daily presence."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from models.domain.errors import ValidationFailed
from models.domain.records import Breakout
from models.store.rules import RuleVersion, in_force

MAX_REPORT_DAYS = 366
# Ratios are compared with this slack so that 4 of 5 days is exactly 80% in floating point too.
_EPSILON = 1e-9


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def period_start(day: date, period: Period) -> date:
    """The first day of the period holding `day`; weeks start on Monday (ISO)."""
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def period_end(start: date, period: Period) -> date:
    """The last day of the period that begins on `start`."""
    if period is Period.WEEK:
        return start + timedelta(days=6)
    if period is Period.MONTH:
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return following - timedelta(days=1)
    return start


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class PresenceRules:
    """The thresholds of a school report (settings; README "Attendance rules").

    The day rule (`day_min_seconds` in the place, or in it right now today) is applied where the
    days are summed, in the database; the period rule is `aggregate_presence`.
    """

    day_min_seconds: float
    period_min_ratio: float
    # ISO weekdays (1 = Monday) that count; absence is only counted on them.
    school_days: frozenset[int]

    def is_school_day(self, day: date) -> bool:
        return day.isoweekday() in self.school_days


@dataclass(frozen=True, slots=True)
class UserDays:
    """One user's days in one period: time in the place, and days that met the day rule (or a
    correction's mark in force says present); what the visits alone say beside it, and how many
    days a mark decided."""

    seconds: float = 0.0
    present_days: int = 0
    present_school_days: int = 0
    # Before corrections (None: as corrected, there being none).
    recorded_present_days: int | None = None
    recorded_present_school_days: int | None = None
    corrected_days: int = 0

    def recorded(self) -> UserDays:
        """The days as the visits alone say."""
        return UserDays(
            self.seconds,
            self.present_days if self.recorded_present_days is None else self.recorded_present_days,
            self.present_school_days
            if self.recorded_present_school_days is None
            else self.recorded_present_school_days,
        )


NO_DAYS = UserDays()


@dataclass(frozen=True, slots=True)
class UserPeriod:
    user_id: str
    seconds: float
    present_days: int
    school_days: int
    present: bool
    # Presence before corrections, and the days of the period a mark decided.
    recorded_present: bool
    corrected_days: int


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """Present and absent users over one day, week or month (cut to the asked range)."""

    period: Period
    start: date
    end: date
    school_days: int
    present: int
    absent: int
    # Present users before corrections.
    recorded_present: int
    users: tuple[UserPeriod, ...]


def aggregate_presence(
    *,
    users: Collection[str],
    days: Mapping[tuple[str, date], UserDays],
    first: date,
    last: date,
    today: date,
    period: Period,
    rules: PresenceRules,
    detail: bool = True,
) -> list[PeriodFigures]:
    """Present/absent counts per period from `first` to `last` for every user of the place.

    `days[(user, period start)]` sums the user's days in that period. Days after `today` are not
    counted yet. A user is present in a period when present on at least `period_min_ratio` of its
    school days counted so far; a period with none counts nobody absent, and on a single day off
    whoever met the day rule is present. `detail` keeps the per-user rows.
    """
    figures = []
    for start, period_days in _group_by_period(days_between(first, last), period):
        counted = [day for day in period_days if day <= today and rules.is_school_day(day)]
        day_off = period is Period.DAY and not counted and period_days[0] <= today
        needed = rules.period_min_ratio * len(counted) - _EPSILON if counted else None
        present, recorded_present, rows = 0, 0, []
        for user in users:
            summed = days.get((user, period_start(start, period)), NO_DAYS)
            is_present = _meets(summed, day_off=day_off, needed=needed)
            was_present = _meets(summed.recorded(), day_off=day_off, needed=needed)
            present += is_present
            recorded_present += was_present
            if detail:
                rows.append(
                    UserPeriod(
                        user,
                        summed.seconds,
                        summed.present_school_days,
                        len(counted),
                        is_present,
                        was_present,
                        summed.corrected_days,
                    )
                )
        figures.append(
            PeriodFigures(
                period=period,
                start=start,
                end=period_days[-1],
                school_days=len(counted),
                present=present,
                absent=len(users) - present if counted else 0,
                recorded_present=recorded_present,
                users=tuple(rows),
            )
        )
    return figures


def _meets(summed: UserDays, *, day_off: bool, needed: float | None) -> bool:
    """Present in a period: on a day off, by having met the day rule; else on at least `needed`
    of its school days (None: the period has none counted yet, so nobody is)."""
    if day_off:
        return summed.present_days > 0
    return needed is not None and summed.present_school_days >= needed


def _group_by_period(days: Iterable[date], period: Period) -> list[tuple[date, list[date]]]:
    groups: dict[date, list[date]] = {}
    for day in days:
        groups.setdefault(period_start(day, period), []).append(day)
    return [(max(start, group[0]), group) for start, group in groups.items()]


@dataclass(frozen=True, slots=True)
class BreakoutPolicy:
    """A breakout's presence rule: at least `min_minutes`, or `min_percent` of its schedule."""

    min_minutes: float | None
    min_percent: float | None

    def required_seconds(self, scheduled_seconds: float | None) -> float:
        """Attended seconds that make a user present (and always more than none)."""
        if self.min_percent is not None and scheduled_seconds:
            return self.min_percent * scheduled_seconds / 100 - _EPSILON
        return (self.min_minutes or 0.0) * 60 - _EPSILON

    def present(self, seconds: float, scheduled_seconds: float | None) -> bool:
        return seconds > 0 and seconds >= self.required_seconds(scheduled_seconds)


def breakout_policy(
    own_minutes: float | None,
    own_percent: float | None,
    *,
    default_minutes: float,
    default_percent: float,
    scheduled: bool,
) -> BreakoutPolicy:
    """The breakout's own rule, else the server's: percent of the schedule when it has one."""
    if own_minutes is not None:
        return BreakoutPolicy(float(own_minutes), None)
    if own_percent is not None and scheduled:
        return BreakoutPolicy(None, own_percent)
    if scheduled:
        return BreakoutPolicy(None, default_percent)
    return BreakoutPolicy(default_minutes, None)


class RuleBasis(StrEnum):
    """Which rule a report applies: today's, or the one that held then (`?rule=as-of`)."""

    CURRENT = "current"
    AS_OF = "as-of"


@dataclass(frozen=True, slots=True)
class AppliedRule:
    """The rule versions a report used (README "Attendance rules"): the place's own version
    (a breakout's rule, a school's thresholds) and the server's defaults' version, as they held
    at `as_of` (None: today's, the latest)."""

    basis: RuleBasis
    as_of: datetime | None
    own_version: int | None
    server_version: int


def breakout_as_of(breakout: Breakout, now: datetime) -> datetime:
    """The moment whose rule "held then" for a breakout: when it ended (or was to), else now."""
    ended = breakout.ended_at or breakout.ends_at
    return now if ended is None else min(ended, now)


@dataclass(frozen=True, slots=True)
class BreakoutRules:
    """The server's default presence rule for breakouts that set none: this node's settings,
    recorded as the server's version `server.version` when it started."""

    server: RuleVersion

    def policy(
        self,
        breakout: Breakout,
        own: Sequence[RuleVersion],
        servers: Sequence[RuleVersion],
        basis: RuleBasis,
        now: datetime,
    ) -> tuple[BreakoutPolicy, AppliedRule]:
        """The breakout's policy under today's rule or the one that held then, from its own
        versions and the server's."""
        at: datetime | None
        if basis is RuleBasis.CURRENT:
            at, server = None, self.server
            mine = in_force(own, None)
            minutes: float | None = breakout.present_min_minutes
            percent = breakout.present_min_percent
        else:
            at = breakout_as_of(breakout, now)
            server = in_force(servers, at) or self.server
            mine = in_force(own, at)
            minutes = None if mine is None else mine.min_minutes
            percent = None if mine is None else mine.min_percent
        policy = breakout_policy(
            minutes,
            percent,
            default_minutes=server.min_minutes or 0.0,
            default_percent=server.min_percent or 0.0,
            scheduled=bool(breakout.scheduled_seconds),
        )
        applied = AppliedRule(basis, at, None if mine is None else mine.version, server.version)
        return policy, applied


def school_rules(
    school_days: Collection[int],
    own: Sequence[RuleVersion],
    servers: Sequence[RuleVersion],
    current: tuple[float | None, float | None],
    server: RuleVersion,
    basis: RuleBasis,
    at: datetime | None,
) -> tuple[PresenceRules, AppliedRule]:
    """A school's thresholds: its own (`current` today: day hours and period percent), else the
    server's (`server` today), or as they held at `at`; with the versions used."""
    if basis is RuleBasis.CURRENT:
        mine = in_force(own, None)
        hours, percent = current
    else:
        server = in_force(servers, at) or server
        mine = in_force(own, at)
        hours = None if mine is None else mine.day_min_hours
        percent = None if mine is None else mine.period_min_percent
    hours = server.day_min_hours if hours is None else hours
    percent = server.period_min_percent if percent is None else percent
    rules = PresenceRules(
        day_min_seconds=(hours or 0.0) * 3600,
        period_min_ratio=(percent or 0.0) / 100,
        school_days=frozenset(school_days),
    )
    return rules, AppliedRule(basis, at, None if mine is None else mine.version, server.version)


def report_range(first: date, last: date) -> None:
    if first > last:
        raise ValidationFailed({"to": "is before from"})
    if (last - first).days >= MAX_REPORT_DAYS:
        raise ValidationFailed({"to": f"a report spans at most {MAX_REPORT_DAYS} days"})
