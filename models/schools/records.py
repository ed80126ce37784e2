"""The school records: schools, their users, check events and fever alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class School:
    id: str
    org_id: str
    name: str
    # IANA zone of the school's days, weeks and months.
    time_zone: str
    # ISO weekdays (1 = Monday) that are school days.
    school_days: tuple[int, ...]
    # Its own thresholds (None: the server's PRESENT_DAY_MIN_HOURS, PRESENT_PERIOD_MIN_PERCENT).
    day_min_hours: float | None
    period_min_percent: float | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SchoolSpec:
    """What an admin sets on a school; None leaves a field as it is (PATCH)."""

    name: str | None = None
    time_zone: str | None = None
    school_days: tuple[int, ...] | None = None
    # The thresholds change only when given (None then sets the server's back).
    day_min_hours: float | None = None
    day_min_hours_given: bool = False
    period_min_percent: float | None = None
    period_min_percent_given: bool = False


@dataclass(frozen=True, slots=True)
class SchoolUser:
    id: str
    school_id: str
    name: str
    email: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SchoolUserSpec:
    """What an admin sets on a user; None leaves a field as it is, `email_given` says if sent."""

    school_id: str | None = None
    name: str | None = None
    email: str | None = None
    email_given: bool = False


class CheckKind(StrEnum):
    CHECKIN = "checkin"
    CHECKOUT = "checkout"


@dataclass(frozen=True, slots=True)
class CheckEventSpec:
    """A check-in or check-out as a kiosk or app posts it; `at` None means "now"."""

    user_id: str
    school_id: str
    kind: CheckKind
    temperature: float
    image: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckEvent:
    id: int
    school_id: str
    user_id: str
    kind: CheckKind
    at: datetime
    temperature: float
    image: str | None
    recorded_at: datetime
    # Who posted it: the user themself, or an admin entering it for them.
    entered_by: str | None = None


@dataclass(frozen=True, slots=True)
class InSchool:
    """A user checked in at a school now; a check-in from before the school's today is a
    check-out that was missed."""

    user_id: str
    user_name: str | None
    since: datetime
    missed_checkout: bool


@dataclass(frozen=True, slots=True)
class FeverAlert:
    id: int
    event_id: int
    school_id: str
    org_id: str
    user_id: str
    user_name: str | None
    temperature: float
    at: datetime
    raised_at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
