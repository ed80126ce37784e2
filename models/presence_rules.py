"""Who counts as present: per day, per week or month, and per breakout, from daily presence."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

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
    """The thresholds of a school report (settings; README "Attendance rules")."""

    day_min_seconds: float
    period_min_ratio: float
    # ISO weekdays (1 = Monday) that count; absence is only counted on them.
    school_days: frozenset[int]

    def is_school_day(self, day: date) -> bool:
        return day.isoweekday() in self.school_days

    def present_on_day(self, seconds: float, in_now: bool) -> bool:
        """Enough time in the place that day, or (today only) in it at this moment."""
        return in_now or seconds + _EPSILON >= self.day_min_seconds


@dataclass(frozen=True, slots=True)
class UserPeriod:
    user_id: str
    seconds: float
    present_days: int
    school_days: int
    present: bool


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """Present and absent users over one day, week or month (cut to the asked range)."""

    period: Period
    start: date
    end: date
    school_days: int
    present: int
    absent: int
    users: tuple[UserPeriod, ...]


def aggregate_presence(
    *,
    users: Collection[str],
    seconds: Mapping[tuple[str, date], float],
    in_now: Collection[str],
    first: date,
    last: date,
    today: date,
    period: Period,
    rules: PresenceRules,
) -> list[PeriodFigures]:
    """Present/absent counts per period from `first` to `last` for every user of the place.

    `seconds[(user, day)]` is the user's time in the place that local day; `in_now` holds who is
    in the place at this moment (present today whatever their time). Days after `today` are not
    counted yet. A user is present on a period of several days when present on at least
    `period_min_ratio` of its school days counted so far; a period with none counts nobody.
    """
    counted = [day for day in days_between(first, last) if day <= today]
    figures = []
    for start, days in _group_by_period(days_between(first, last), period):
        school_days = [day for day in days if day in counted and rules.is_school_day(day)]
        rows = []
        for user in sorted(users):
            present_days = sum(
                rules.present_on_day(seconds.get((user, day), 0.0), user in in_now and day == today)
                for day in school_days
            )
            total = sum(seconds.get((user, day), 0.0) for day in days)
            if period is Period.DAY and days[0] <= today and not school_days:
                # Someone who came on a day off was there, but nobody is absent on it.
                present = rules.present_on_day(total, user in in_now and days[0] == today)
            else:
                present = bool(school_days) and (
                    present_days + _EPSILON >= rules.period_min_ratio * len(school_days)
                )
            rows.append(UserPeriod(user, total, present_days, len(school_days), present))
        present_count = sum(row.present for row in rows)
        figures.append(
            PeriodFigures(
                period=period,
                start=start,
                end=days[-1],
                school_days=len(school_days),
                present=present_count,
                absent=len(rows) - present_count if school_days else 0,
                users=tuple(rows),
            )
        )
    return figures


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

    def present(self, seconds: float, scheduled_seconds: float | None) -> bool:
        if self.min_percent is not None and scheduled_seconds:
            return seconds * 100 + _EPSILON >= self.min_percent * scheduled_seconds
        minutes = self.min_minutes if self.min_minutes is not None else 0.0
        return seconds > 0 and seconds + _EPSILON >= minutes * 60


def breakout_policy(
    own_minutes: int | None,
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
