"""The JSON bodies the HTTP API takes: breakouts, schools, users, check events and corrections
(422 style)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.http.validation import Fields
from models.domain.errors import ValidationFailed
from models.domain.fields import MAX_EMAIL_CHARS, is_clean
from models.domain.records import BreakoutSpec
from models.schools.directory import ImportedUser
from models.schools.records import CheckEventSpec, CheckKind, SchoolSpec, SchoolUserSpec
from models.store.corrections import CorrectionKind, CorrectionReason, CorrectionSpec

MAX_DEVICE_LIMIT = 1000
MAX_PRESENT_MINUTES = 100_000
MAX_IMAGE_CHARS = 2048
# Strictly between these, in degrees Celsius: outside them the reading is a faulty sensor.
MIN_TEMPERATURE_C = 28.0
MAX_TEMPERATURE_C = 43.0
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATA_URL = re.compile(r"data:", re.IGNORECASE)


def breakout_spec(payload: object) -> BreakoutSpec:
    """`{name?, startsAt?, endsAt?, deviceLimit?, presentMinMinutes?, presentMinPercent?}`."""
    fields = Fields.of_body(payload)
    name = fields.text("name", required=False)
    limit = fields.whole("deviceLimit", 0, MAX_DEVICE_LIMIT)
    starts_at, ends_at = fields.time("startsAt"), fields.time("endsAt")
    if starts_at and ends_at and ends_at < starts_at:
        fields.problem("endsAt", "is before startsAt")
    minutes = fields.whole("presentMinMinutes", 0, MAX_PRESENT_MINUTES)
    percent = fields.number("presentMinPercent", 0, 100)
    if fields.given("presentMinMinutes") and fields.given("presentMinPercent"):
        fields.problem("presentMinPercent", "set presentMinMinutes or presentMinPercent, not both")
    fields.done()
    return BreakoutSpec(
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        device_limit=limit,
        present_min_minutes=minutes,
        present_min_percent=percent,
    )


def _time_zone(value: Any) -> str:
    try:
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError(value)
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError("must be an IANA time zone such as Europe/Madrid") from None
    return value


def _weekdays(value: Any) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7 for d in value)
    ):
        raise ValueError("must list ISO weekdays 1 (Monday) to 7 (Sunday)")
    return tuple(sorted(set(value)))


def school_request(payload: object, *, partial: bool) -> tuple[str | None, SchoolSpec]:
    """`{id?, name, time_zone?, school_days?, day_min_hours?, period_min_percent?}`; for PATCH
    every field is optional. A threshold given as null takes the server's again."""
    fields = Fields.of_body(payload)
    school_id = None if partial else fields.identifier("id", required=False)
    name = fields.text("name", required=not partial)
    zone = fields.parsed("time_zone", _time_zone)
    days = fields.parsed("school_days", _weekdays)
    hours = fields.number("day_min_hours", 0, 24)
    percent = fields.number("period_min_percent", 0, 100)
    fields.done()
    return school_id, SchoolSpec(
        name=name,
        time_zone=zone,
        school_days=days,
        day_min_hours=hours,
        day_min_hours_given="day_min_hours" in fields.values,
        period_min_percent=percent,
        period_min_percent_given="period_min_percent" in fields.values,
    )


def user_request(payload: object, *, partial: bool) -> tuple[str | None, SchoolUserSpec]:
    """`{id?, school_id, name, email?}`; for PATCH every field is optional."""
    fields = Fields.of_body(payload)
    user_id = None if partial else fields.identifier("id", required=False)
    school_id = fields.identifier("school_id", required=not partial)
    name = fields.text("name", required=not partial)
    email = fields.text("email", required=False, max_chars=MAX_EMAIL_CHARS)
    if email is not None and not _EMAIL.fullmatch(email):
        fields.problem("email", "must be an email address")
    fields.done()
    return user_id, SchoolUserSpec(
        school_id=school_id,
        name=name,
        email=email,
        email_given=not partial or "email" in fields.values,
    )


MAX_IMPORT_LINES = 10_000
IMPORT_COLUMNS = ("name", "email", "id")


def user_import_request(text: str, school_id: str) -> list[ImportedUser]:
    """A CSV of users for one school: a header naming `name`, `email` and (optionally) `id`,
    then one user a line. Every bad line is named (`line N`) in one 422."""
    rows = list(csv.reader(io.StringIO(text)))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise ValidationFailed({"body": "must be a CSV with a header line: name,email,id"})
    header = [cell.strip().lower() for cell in rows[0]]
    if "name" not in header or any(column not in IMPORT_COLUMNS for column in header):
        raise ValidationFailed({"line 1": "the header must name name, email and optionally id"})
    if len(rows) - 1 > MAX_IMPORT_LINES:
        raise ValidationFailed({"body": f"holds more than {MAX_IMPORT_LINES} users"})
    users: list[ImportedUser] = []
    errors: dict[str, str] = {}
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            errors[f"line {number}"] = f"has {len(row)} cells, the header {len(header)}"
            continue
        given = {column: cell.strip() or None for column, cell in zip(header, row, strict=True)}
        try:
            user_id, spec = user_request({**given, "school_id": school_id}, partial=False)
        except ValidationFailed as exc:
            errors[f"line {number}"] = "; ".join(f"{k}: {why}" for k, why in exc.errors.items())
            continue
        if user_id is not None and user_id in seen:
            errors[f"line {number}"] = f"id: {user_id} is on line {seen[user_id]} as well"
            continue
        if user_id is not None:
            seen[user_id] = number
        users.append((f"line {number}", user_id, spec))
    if errors:
        raise ValidationFailed(errors)
    return users


def _temperature(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("is required, in degrees Celsius")
    if not MIN_TEMPERATURE_C < value < MAX_TEMPERATURE_C:
        raise ValueError(
            f"must be strictly between {MIN_TEMPERATURE_C:g} and {MAX_TEMPERATURE_C:g} °C"
        )
    return float(value)


def check_event_request(payload: object) -> CheckEventSpec:
    """`{user_id, school_id, type, temperature, image?, timestamp?}`."""
    fields = Fields.of_body(payload)
    user_id = fields.identifier("user_id", required=True)
    school_id = fields.identifier("school_id", required=True)
    kind = fields.choice("type", {kind.value for kind in CheckKind})
    if kind is None:
        fields.problem("type", "must be 'checkin' or 'checkout'")
    temperature = fields.parsed("temperature", _temperature)
    if temperature is None:
        fields.problem("temperature", "is required, in degrees Celsius")
    image = fields.text("image", required=False, max_chars=MAX_IMAGE_CHARS)
    if image is not None and _DATA_URL.match(image):
        fields.problem("image", "must be a URL or a storage reference, not the image itself")
    at = fields.time("timestamp")
    fields.done()
    return CheckEventSpec(
        user_id=cast(str, user_id),
        school_id=cast(str, school_id),
        kind=CheckKind(cast(str, kind)),
        temperature=cast(float, temperature),
        image=image,
        at=at,
    )


MAX_NOTE_CHARS = 500


def _one_of(value: object, options: Iterable[str]) -> str:
    if not isinstance(value, str) or value not in set(options):
        raise ValueError("must be " + " or ".join(sorted(options)))
    return value


def correction_request(payload: object, *, school: bool) -> CorrectionSpec:
    """A breakout's `{userId, kind, reason, note?, from?, to?}` (from and to only for a stay) or a
    school day's `{userId, day, kind, reason, note?}`; `reason: other` needs a note."""
    fields = Fields.of_body(payload)
    user_id = fields.identifier("userId", required=True)
    kinds = ("present", "absent") if school else tuple(kind.value for kind in CorrectionKind)
    kind = fields.parsed("kind", lambda value: CorrectionKind(_one_of(value, kinds)), required=True)
    reason = fields.parsed(
        "reason", lambda value: CorrectionReason(_one_of(value, CorrectionReason)), required=True
    )
    note = fields.text("note", required=reason == CorrectionReason.OTHER, max_chars=MAX_NOTE_CHARS)
    day = fields.day("day", required=school)
    stay_from, stay_to = fields.time("from"), fields.time("to")
    if kind == CorrectionKind.STAY:
        for key in ("from", "to"):
            if not fields.given(key):
                fields.problem(key, "is required for a stay")
    else:
        for key in ("from", "to"):
            if fields.given(key):
                fields.problem(key, "is only for a stay")
    if not school and fields.given("day"):
        fields.problem("day", "is for school days")
    fields.done()
    return CorrectionSpec(
        user_id=user_id or "",
        kind=kind or CorrectionKind.PRESENT,  # (never None once `done` passed)
        reason=reason or CorrectionReason.OTHER,
        note=note,
        day=day,
        stay_from=stay_from,
        stay_to=stay_to,
    )


def withdrawal_reason(payload: object) -> str:
    """`{reason}`: why the correction no longer holds."""
    fields = Fields.of_body(payload)
    reason = fields.text("reason", required=True, max_chars=MAX_NOTE_CHARS)
    fields.done()
    return reason or ""


def webhook_request(
    payload: object, events: Collection[str]
) -> tuple[object, list[str], str | None]:
    """`{url, events: [...], secret?}` (secret: 16-256 characters; made when absent)."""
    fields = Fields.of_body(payload)
    url = fields.values.get("url")
    if url is None:
        fields.problem("url", "is required")

    def event_list(value: Any) -> list[str]:
        if not isinstance(value, list) or not value or any(v not in events for v in value):
            raise ValueError("must list one or more of " + ", ".join(events))
        return [str(v) for v in value]

    chosen = fields.parsed("events", event_list, required=True)

    def secret(value: Any) -> str:
        if not isinstance(value, str) or not 16 <= len(value) <= 256 or not is_clean(value):
            raise ValueError("must be 16 to 256 characters, none a control character")
        return value

    given = fields.parsed("secret", secret)
    fields.done()
    return url, chosen or [], given
