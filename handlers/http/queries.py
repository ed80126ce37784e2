"""Validation of the school API's bodies and queries: every bad field is named (HTTP 422)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.socket.payloads import MAX_ID_CHARS, aware_time, breakout_id
from models.domain.errors import InvalidPayload, ValidationFailed
from models.domain.records import CheckEventSpec, CheckKind, SchoolSpec, SchoolUserSpec
from models.reports.rules import Period
from models.schools.checkins import EventFilter

MAX_NAME_CHARS = 200
MAX_IMAGE_CHARS = 2048
MAX_PAGE = 1000
DEFAULT_PAGE = 100
# Strictly between these, in degrees Celsius: outside them the reading is a faulty sensor.
MIN_TEMPERATURE_C = 28.0
MAX_TEMPERATURE_C = 43.0
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATA_URL = re.compile(r"data:", re.IGNORECASE)


class _Fields:
    """Collects every field's problem, so one 422 names them all."""

    def __init__(self, payload: object) -> None:
        if not isinstance(payload, dict):
            raise ValidationFailed({"body": "must be a JSON object"})
        self.values: dict[str, Any] = payload
        self.errors: dict[str, str] = {}

    def text(self, key: str, *, required: bool, max_chars: int = MAX_NAME_CHARS) -> str | None:
        value = self.values.get(key)
        if value is None:
            if required:
                self.errors[key] = "is required"
            return None
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= max_chars:
            self.errors[key] = f"must be text of 1 to {max_chars} characters"
            return None
        return value.strip()

    def identifier(self, key: str, *, required: bool) -> str | None:
        value = self.values.get(key)
        if value is None:
            if required:
                self.errors[key] = "is required"
            return None
        try:
            return breakout_id(value, key)
        except InvalidPayload as exc:
            self.errors[key] = exc.message
            return None

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def school_request(payload: object, *, partial: bool) -> tuple[str | None, SchoolSpec]:
    """`{id?, name, time_zone?, school_days?}`; for PATCH every field is optional."""
    fields = _Fields(payload)
    school_id = None if partial else fields.identifier("id", required=False)
    name = fields.text("name", required=not partial)
    zone = fields.values.get("time_zone")
    if zone is not None:
        try:
            if not isinstance(zone, str) or len(zone) > 64:
                raise ValueError(zone)
            ZoneInfo(zone)
        except (ValueError, ZoneInfoNotFoundError):
            fields.errors["time_zone"] = "must be an IANA time zone such as Europe/Madrid"
            zone = None
    days = fields.values.get("school_days")
    if days is not None and (
        not isinstance(days, list)
        or not days
        or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7 for d in days)
    ):
        fields.errors["school_days"] = "must list ISO weekdays 1 (Monday) to 7 (Sunday)"
        days = None
    fields.done()
    return school_id, SchoolSpec(
        name=name, time_zone=zone, school_days=None if days is None else tuple(sorted(set(days)))
    )


def user_request(payload: object, *, partial: bool) -> tuple[str | None, SchoolUserSpec]:
    """`{id?, school_id, name, email?}`; for PATCH every field is optional."""
    fields = _Fields(payload)
    user_id = None if partial else fields.identifier("id", required=False)
    school_id = fields.identifier("school_id", required=not partial)
    name = fields.text("name", required=not partial)
    email = fields.text("email", required=False, max_chars=254)
    if email is not None and not _EMAIL.fullmatch(email):
        fields.errors["email"] = "must be an email address"
    fields.done()
    return user_id, SchoolUserSpec(
        school_id=school_id,
        name=name,
        email=email,
        email_given=not partial or "email" in fields.values,
    )


def check_event_request(payload: object) -> CheckEventSpec:
    """`{user_id, school_id, type, temperature, image?, timestamp?}`."""
    fields = _Fields(payload)
    user_id = fields.identifier("user_id", required=True)
    school_id = fields.identifier("school_id", required=True)
    kind = fields.values.get("type")
    if kind not in {"checkin", "checkout"}:
        fields.errors["type"] = "must be 'checkin' or 'checkout'"
    temperature = fields.values.get("temperature")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        fields.errors["temperature"] = "is required, in degrees Celsius"
    elif not MIN_TEMPERATURE_C < temperature < MAX_TEMPERATURE_C:
        fields.errors["temperature"] = (
            f"must be strictly between {MIN_TEMPERATURE_C:g} and {MAX_TEMPERATURE_C:g} °C"
        )
    image = fields.text("image", required=False, max_chars=MAX_IMAGE_CHARS)
    if image is not None and _DATA_URL.match(image):
        fields.errors["image"] = "must be a URL or a storage reference, not the image itself"
    at = _timestamp(fields.values.get("timestamp"), fields.errors)
    fields.done()
    return CheckEventSpec(
        user_id=cast(str, user_id),
        school_id=cast(str, school_id),
        kind=CheckKind(cast(str, kind)),
        temperature=float(cast(float, temperature)),
        image=image,
        at=at,
    )


def _timestamp(value: object, errors: dict[str, str]) -> datetime | None:
    if value is None:
        return None
    try:
        return aware_time(value, "timestamp")
    except InvalidPayload as exc:
        errors["timestamp"] = exc.message.removeprefix("timestamp ")
        return None


@dataclass(frozen=True, slots=True)
class Page:
    cursor: str | None
    limit: int


def page_query(query: Any, default: int = DEFAULT_PAGE) -> Page:
    """`?limit=` (1-1000, default 100) and `?cursor=` from the previous page's `next_cursor`."""
    raw = query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidPayload(f"limit must be a whole number 1-{MAX_PAGE}")
    cursor = query.get("cursor")
    if cursor is not None and not 1 <= len(cursor) <= MAX_ID_CHARS:
        raise InvalidPayload("cursor is not one this server gave")
    return Page(cursor, int(raw))


def numeric_cursor(page: Page) -> int | None:
    if page.cursor is None:
        return None
    if not page.cursor.isdigit():
        raise InvalidPayload("cursor is not one this server gave")
    return int(page.cursor)


def _query_moment(query: Any, key: str, *, end: bool) -> datetime | None:
    """An ISO time with a zone, or a date (a whole UTC day: `to` includes it)."""
    raw = query.get(key)
    if raw is None or len(raw) != 10:
        return None if raw is None else aware_time(raw, key)
    try:
        start = datetime.combine(date.fromisoformat(raw), time(0), tzinfo=UTC)
    except ValueError:
        raise InvalidPayload(f"{key} must be a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return start + timedelta(days=1) if end else start


def event_filter(query: Any) -> EventFilter:
    """`?school_id=&user_id=&from=&to=` for the attendance list."""
    since = _query_moment(query, "from", end=False)
    until = _query_moment(query, "to", end=True)
    if since and until and since >= until:
        raise InvalidPayload("from is after to")
    return EventFilter(
        school_id=query.get("school_id"), user_id=query.get("user_id"), since=since, until=until
    )


@dataclass(frozen=True, slots=True)
class ReportQuery:
    first: date
    last: date
    period: Period
    detail: bool


def report_query(query: Any) -> ReportQuery:
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD&period=day|week|month&detail=users`."""
    try:
        first = date.fromisoformat(query.get("from", ""))
        last = date.fromisoformat(query.get("to", ""))
    except ValueError:
        raise InvalidPayload("from and to must be dates, YYYY-MM-DD") from None
    period = query.get("period", Period.DAY.value)
    if period not in {p.value for p in Period}:
        raise InvalidPayload("period must be day, week or month")
    detail = query.get("detail")
    if detail not in {None, "users", "breakouts"}:
        raise InvalidPayload("detail must be users or breakouts")
    return ReportQuery(first, last, Period(period), detail is not None)
