"""The attendance rules on daily presence: thresholds, ratios, today, days off, breakouts."""

from __future__ import annotations

from datetime import date

from models.presence_rules import (
    Period,
    PresenceRules,
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
SUNDAY = date(2026, 11, 22)


def _week(seconds: dict[tuple[str, date], float], **kwargs: object) -> list:
    options = {
        "users": ["ada", "bob"],
        "seconds": seconds,
        "in_now": set(),
        "first": MONDAY,
        "last": SUNDAY,
        "today": SUNDAY,
        "period": Period.WEEK,
        "rules": RULES,
    } | kwargs
    return aggregate_presence(**options)  # type: ignore[arg-type]


def test_exactly_the_day_threshold_is_present_and_a_second_less_is_not() -> None:
    days = aggregate_presence(
        users=["ada", "bob"],
        seconds={("ada", MONDAY): 4 * HOUR, ("bob", MONDAY): 4 * HOUR - 1},
        in_now=set(),
        first=MONDAY,
        last=MONDAY,
        today=FRIDAY,
        period=Period.DAY,
        rules=RULES,
    )
    assert [(d.present, d.absent) for d in days] == [(1, 1)]
    assert {u.user_id: u.present for u in days[0].users} == {"ada": True, "bob": False}


def test_four_of_five_school_days_is_eighty_percent_and_present() -> None:
    weekdays = [date(2026, 11, 16 + offset) for offset in range(5)]
    seconds = {("ada", day): 5 * HOUR for day in weekdays[:4]}
    seconds |= {("bob", day): 5 * HOUR for day in weekdays[:3]}
    (week,) = _week(seconds)
    assert week.school_days == 5
    users = {u.user_id: u for u in week.users}
    assert users["ada"].present and users["ada"].present_days == 4
    assert not users["bob"].present and users["bob"].present_days == 3
    assert (week.present, week.absent) == (1, 1)


def test_checked_in_now_counts_as_present_today_only() -> None:
    days = aggregate_presence(
        users=["ada"],
        seconds={("ada", FRIDAY): 60.0},
        in_now={"ada"},
        first=date(2026, 11, 19),
        last=FRIDAY,
        today=FRIDAY,
        period=Period.DAY,
        rules=RULES,
    )
    assert [(d.start, d.present, d.absent) for d in days] == [
        (date(2026, 11, 19), 0, 1),
        (FRIDAY, 1, 0),
    ]


def test_an_empty_school_is_all_absent() -> None:
    days = aggregate_presence(
        users=["ada", "bob", "cy"],
        seconds={},
        in_now=set(),
        first=MONDAY,
        last=FRIDAY,
        today=SUNDAY,
        period=Period.DAY,
        rules=RULES,
    )
    assert [(d.present, d.absent) for d in days] == [(0, 3)] * 5


def test_nobody_is_absent_on_a_day_off_but_someone_who_came_is_present() -> None:
    saturday = date(2026, 11, 21)
    (day,) = aggregate_presence(
        users=["ada", "bob"],
        seconds={("ada", saturday): 5 * HOUR},
        in_now=set(),
        first=saturday,
        last=saturday,
        today=SUNDAY,
        period=Period.DAY,
        rules=RULES,
    )
    assert (day.school_days, day.present, day.absent) == (0, 1, 0)


def test_days_after_today_are_not_counted_yet() -> None:
    seconds = {("ada", MONDAY): 5 * HOUR, ("ada", date(2026, 11, 17)): 5 * HOUR}
    (week,) = _week(seconds, today=date(2026, 11, 17))
    assert week.school_days == 2 and (week.present, week.absent) == (1, 1)
    (future,) = _week({}, first=date(2026, 11, 23), last=date(2026, 11, 29))
    assert (future.school_days, future.present, future.absent) == (0, 0, 0)


def test_periods_are_cut_to_the_asked_range() -> None:
    months = aggregate_presence(
        users=["ada"],
        seconds={},
        in_now=set(),
        first=date(2026, 10, 20),
        last=date(2026, 11, 5),
        today=SUNDAY,
        period=Period.MONTH,
        rules=RULES,
    )
    assert [(m.start, m.end) for m in months] == [
        (date(2026, 10, 20), date(2026, 10, 31)),
        (date(2026, 11, 1), date(2026, 11, 5)),
    ]
    assert period_start(SUNDAY, Period.WEEK) == MONDAY
    assert period_end(date(2024, 2, 1), Period.MONTH) == date(2024, 2, 29)
    assert period_end(date(2026, 12, 1), Period.MONTH) == date(2026, 12, 31)


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
