"""The school API's JSON (snake_case, as the kiosk and app clients of the seed systems speak it)."""

from __future__ import annotations

from handlers.wire.records import Json, iso_ms
from models.reports.schools import SchoolReport
from models.schools.records import CheckEvent, FeverAlert, School, SchoolUser


def school_json(school: School) -> Json:
    return {
        "id": school.id,
        "org_id": school.org_id,
        "name": school.name,
        "time_zone": school.time_zone,
        "school_days": list(school.school_days),
        "created_at": iso_ms(school.created_at),
        "updated_at": iso_ms(school.updated_at),
    }


def user_json(user: SchoolUser) -> Json:
    return {
        "id": user.id,
        "school_id": user.school_id,
        "name": user.name,
        "email": user.email,
        "created_at": iso_ms(user.created_at),
        "updated_at": iso_ms(user.updated_at),
    }


def event_json(event: CheckEvent) -> Json:
    return {
        "id": event.id,
        "school_id": event.school_id,
        "user_id": event.user_id,
        "type": event.kind.value,
        "timestamp": iso_ms(event.at),
        "temperature": event.temperature,
        "image": event.image,
        "recorded_at": iso_ms(event.recorded_at),
    }


def alert_json(alert: FeverAlert) -> Json:
    return {
        "id": alert.id,
        "attendance_id": alert.event_id,
        "school_id": alert.school_id,
        "user_id": alert.user_id,
        "temperature": alert.temperature,
        "timestamp": iso_ms(alert.at),
        "raised_at": iso_ms(alert.raised_at),
    }


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
        "users": len(report.names),
        "periods": periods,
    }
