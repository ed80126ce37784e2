"""The school API's JSON (snake_case, as the kiosk and app clients of the seed systems speak it)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import fields
from datetime import datetime
from enum import Enum
from typing import Any

from handlers.wire.records import Json, rule_json
from models.domain.fields import iso_ms
from models.reports.schools import SchoolReport
from models.schools.records import CheckEvent, FeverAlert, InSchool, School, SchoolUser


def _snake_json(
    record: Any, *, renamed: Mapping[str, str] | None = None, left_out: Collection[str] = ()
) -> Json:
    """A school record as its JSON: each field by its own (snake_case) name unless `renamed`,
    times in ISO 8601 UTC, enums as their value, tuples as lists."""
    renamed = renamed or {}
    body: Json = {}
    for field in fields(record):
        if field.name in left_out:
            continue
        value = getattr(record, field.name)
        if isinstance(value, datetime):
            value = iso_ms(value)
        elif isinstance(value, Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        body[renamed.get(field.name, field.name)] = value
    return body


def school_json(school: School) -> Json:
    return _snake_json(school)


def user_json(user: SchoolUser) -> Json:
    return _snake_json(user)


def event_json(event: CheckEvent) -> Json:
    return _snake_json(event, renamed={"kind": "type", "at": "timestamp"})


def in_school_json(here: InSchool) -> Json:
    return _snake_json(here)


def alert_json(alert: FeverAlert) -> Json:
    return _snake_json(
        alert, renamed={"event_id": "attendance_id", "at": "timestamp"}, left_out={"org_id"}
    )


def school_report_json(report: SchoolReport, *, detail: bool) -> Json:
    rules = report.rules
    periods = []
    for figures in report.periods:
        row: Json = {
            "start": figures.start.isoformat(),
            "end": figures.end.isoformat(),
            "school_days": figures.school_days,
            "present": figures.present,
            "absent": figures.absent,
            "recorded_present": figures.recorded_present,
        }
        if detail:
            row["users"] = [
                {
                    "user_id": user.user_id,
                    "name": report.names[user.user_id],
                    "present": user.present,
                    "present_days": user.present_days,
                    "school_days": user.school_days,
                    "seconds": round(user.seconds, 3),
                    "recorded_present": user.recorded_present,
                    "corrected_days": user.corrected_days,
                }
                for user in figures.users
            ]
        periods.append(row)
    return {
        "school_id": report.school.id,
        "time_zone": report.school.time_zone,
        "from": report.first.isoformat(),
        "to": report.last.isoformat(),
        "period": report.period.value,
        "rules": {
            "day_min_hours": rules.day_min_seconds / 3600,
            "period_min_percent": rules.period_min_ratio * 100,
            "school_days": sorted(rules.school_days),
        },
        "rule": rule_json(report.rule, snake=True),
        "users": len(report.names),
        "periods": periods,
    }
