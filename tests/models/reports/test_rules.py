"""The attendance rules over summed days: ratios, days off, days to come, periods, breakouts."""

from __future__ import annotations

from datetime import date

from models.reports.rules import (
    Period,
    PeriodFigures,
    PresenceRules,
    UserDays,
    aggregate_presence,
    breakout_policy,
    period_end,
    period_start,
)

HOUR = 3600.0
RULES = PresenceRules(
    day_min_seconds=4 * HOUR, period_min_ratio=0.8, school_days=frozenset({1, 2, 3, 4, 5})
)
MONDAY = date(2026, 11, 16)
FRIDAY = date(2026, 11, 20)
SATURDAY = date(2026, 11, 21)
SUNDAY = date(2026, 11, 22)


def _aggregate(
    days: dict[tuple[str, date], UserDays],
    *,
    first: date = MONDAY,
    last: date = SUNDAY,
    today: date = SUNDAY,
    period: Period = Period.WEEK,
    users: tuple[str, ...] = ("ada", "bob"),
) -> list[PeriodFigures]:
    return aggregate_presence(
        users=users, days=days, first=first, last=last, today=today, period=period, rules=RULES
    )


def test_four_of_five_school_days_is_eighty_percent_and_present() -> None:
    (week,) = _aggregate(
        {
            ("ada", MONDAY): UserDays(20 * HOUR, 4, 4),
            ("bob", MONDAY): UserDays(30 * HOUR, 4, 3),  # one of his four was a Saturday
        }
    )
    assert week.school_days == 5
    users = {u.user_id: u for u in week.users}
    assert users["ada"].present and users["ada"].present_days == 4
    assert not users["bob"].present and users["bob"].seconds == 30 * HOUR
    assert (week.present, week.absent) == (1, 1)


def test_an_empty_school_is_all_absent() -> None:
    days = _aggregate({}, last=FRIDAY, period=Period.DAY, users=("ada", "bob", "cy"))
    assert [(d.present, d.absent) for d in days] == [(0, 3)] * 5


def test_nobody_is_absent_on_a_day_off_but_who_came_is_present() -> None:
    (day,) = _aggregate(
        {("ada", SATURDAY): UserDays(5 * HOUR, 1, 0)},
        first=SATURDAY,
        last=SATURDAY,
        period=Period.DAY,
    )
    assert (day.school_days, day.present, day.absent) == (0, 1, 0)


def test_days_after_today_are_not_counted_yet() -> None:
    (week,) = _aggregate({("ada", MONDAY): UserDays(10 * HOUR, 2, 2)}, today=date(2026, 11, 17))
    assert week.school_days == 2 and (week.present, week.absent) == (1, 1)
    (future,) = _aggregate({}, first=date(2026, 11, 23), last=date(2026, 11, 29))
    assert (future.school_days, future.present, future.absent) == (0, 0, 0)


def test_periods_are_cut_to_the_asked_range_and_keyed_by_their_true_start() -> None:
    months = _aggregate(
        {("ada", date(2026, 10, 1)): UserDays(40 * HOUR, 9, 9)},
        first=date(2026, 10, 20),
        last=date(2026, 11, 5),
        period=Period.MONTH,
        users=("ada",),
    )
    assert [(m.start, m.end, m.school_days) for m in months] == [
        (date(2026, 10, 20), date(2026, 10, 31), 9),
        (date(2026, 11, 1), date(2026, 11, 5), 4),
    ]
    assert [m.present for m in months] == [1, 0]
    assert period_start(SUNDAY, Period.WEEK) == MONDAY
    assert period_end(date(2024, 2, 1), Period.MONTH) == date(2024, 2, 29)
    assert period_end(date(2026, 12, 1), Period.MONTH) == date(2026, 12, 31)


def test_without_detail_only_counts_are_kept() -> None:
    (week,) = aggregate_presence(
        users=["ada"],
        days={("ada", MONDAY): UserDays(20 * HOUR, 5, 5)},
        first=MONDAY,
        last=SUNDAY,
        today=SUNDAY,
        period=Period.WEEK,
        rules=RULES,
        detail=False,
    )
    assert (week.present, week.absent, week.users) == (1, 0, ())


def test_breakout_policies() -> None:
    hour_long = 3600.0
    own_minutes = breakout_policy(30, None, default_minutes=10, default_percent=75, scheduled=True)
    assert own_minutes.present(30 * 60, hour_long) and not own_minutes.present(29 * 60, hour_long)
    default = breakout_policy(None, None, default_minutes=10, default_percent=75, scheduled=True)
    assert default.present(45 * 60, hour_long) and not default.present(44 * 60, hour_long)
    unscheduled = breakout_policy(None, 50, default_minutes=10, default_percent=75, scheduled=False)
    assert unscheduled.min_minutes == 10 and unscheduled.present(600, None)
    assert not unscheduled.present(599, None)
    anything = breakout_policy(0, None, default_minutes=10, default_percent=75, scheduled=False)
    assert anything.present(1, None) and not anything.present(0, None)
