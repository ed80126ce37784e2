"""Realistic demo and benchmark data: schools with check-ins, breakouts with sessions, by COPY."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config import PartitionInterval
from models.jobs.partitions import create_partitions
from models.store.database import Connection

ZONES = ("UTC", "Europe/Madrid", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
CITIES = (
    ("Madrid", "MD", "ES", 40.4165, -3.7026),
    ("London", "ENG", "GB", 51.5085, -0.1257),
    ("New York", "NY", "US", 40.7143, -74.006),
    ("Tokyo", "13", "JP", 35.6895, 139.6917),
)
DEVICES = (
    ("Chrome", "124.0", "Mac OS X", "10.15", "desktop"),
    ("Firefox", "125.0", "Windows", "10", "desktop"),
    ("Mobile Safari", "17.4", "iOS", "17.4", "mobile"),
    ("Chrome Mobile", "124.0", "Android", "14", "mobile"),
)
RESERVE_EVENT_IDS = (
    "SELECT setval(pg_get_serial_sequence('check_events', 'id'),"
    " nextval(pg_get_serial_sequence('check_events', 'id')) + $1 - 1)"
)
SESSION_COLUMNS = (
    "user_id",
    "breakout_id",
    "session_id",
    "session_type",
    "entry_ts",
    "exit_ts",
    "exit_reason",
    "user_name",
    "org_id",
    "city",
    "region",
    "country_code",
    "latitude",
    "longitude",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device_type",
)


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """How much to make. Days end at `last_day`; school days are Monday to Friday."""

    org_id: str = "demo"
    schools: int = 3
    users_per_school: int = 200
    days: int = 30
    breakouts: int = 20
    attendees_per_breakout: int = 100
    last_day: date = field(default_factory=lambda: datetime.now(UTC).date() - timedelta(days=1))
    seed: int = 7


@dataclass
class SeedCounts:
    schools: int = 0
    users: int = 0
    check_events: int = 0
    fever_alerts: int = 0
    breakouts: int = 0
    sessions: int = 0


@dataclass
class _SchoolRows:
    schools: list[tuple[object, ...]] = field(default_factory=list)
    users: list[tuple[object, ...]] = field(default_factory=list)
    events: list[tuple[object, ...]] = field(default_factory=list)
    visits: list[tuple[object, ...]] = field(default_factory=list)
    alerts: list[tuple[object, ...]] = field(default_factory=list)


def _visits_of_a_day(
    rng: random.Random, day: date, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """A pupil's stays on a school day: mostly one; sometimes late, gone early, out for lunch."""
    if rng.random() < 0.07:
        return []  # absent
    arrival = 7.75 + abs(rng.gauss(0, 0.15)) + (rng.random() < 0.1) * rng.uniform(0.25, 1.5)
    leaving = rng.uniform(14.5, 16.0) if rng.random() > 0.05 else rng.uniform(9.5, 11.5)
    start = datetime.combine(day, time(0), zone)
    if rng.random() < 0.03 and leaving > 13.5:  # out for lunch and back
        return [
            (start + timedelta(hours=arrival), start + timedelta(hours=12)),
            (start + timedelta(hours=12.9), start + timedelta(hours=leaving)),
        ]
    return [(start + timedelta(hours=arrival), start + timedelta(hours=max(leaving, arrival)))]


def _temperature(rng: random.Random) -> float:
    if rng.random() < 0.003:
        return round(rng.uniform(38.0, 39.6), 1)
    return round(rng.gauss(36.6, 0.25), 1)


def school_rows(plan: SeedPlan, first_event_id: int) -> _SchoolRows:
    rng = random.Random(plan.seed)  # noqa: S311 - repeatable demo data, not secrets
    rows = _SchoolRows()
    days = [plan.last_day - timedelta(days=n) for n in range(plan.days - 1, -1, -1)]
    event_id = first_event_id
    for s in range(plan.schools):
        school_id = f"{plan.org_id}-school-{s}"
        zone_name = ZONES[s % len(ZONES)]
        zone = ZoneInfo(zone_name)
        rows.schools.append((school_id, plan.org_id, f"School {s}", zone_name, [1, 2, 3, 4, 5]))
        for u in range(plan.users_per_school):
            user_id = f"{school_id}-user-{u}"
            rows.users.append((plan.org_id, user_id, school_id, f"Pupil {s}.{u}", None))
            for day in days:
                if day.isoweekday() > 5:
                    continue
                for entry, exit_ts in _visits_of_a_day(rng, day, zone):
                    checkin, checkout = event_id, event_id + 1
                    event_id += 2
                    for eid, kind, at in (
                        (checkin, "checkin", entry),
                        (checkout, "checkout", exit_ts),
                    ):
                        temperature = _temperature(rng)
                        rows.events.append(
                            (plan.org_id, eid, school_id, user_id, kind, at, temperature, None)
                        )
                        if temperature >= 38.0:
                            rows.alerts.append(
                                (plan.org_id, eid, school_id, user_id, temperature, at)
                            )
                    rows.visits.append(
                        (plan.org_id, checkin, checkout, school_id, user_id, entry, exit_ts)
                    )
    return rows


def _sessions(plan: SeedPlan, breakout_id: str, start: datetime) -> Iterator[tuple[object, ...]]:
    """Sessions of one breakout: lateness, early leavers, reconnects and second devices."""
    rng = random.Random(f"{plan.seed}-{breakout_id}")  # noqa: S311
    for a in range(plan.attendees_per_breakout):
        if rng.random() < 0.05:
            continue  # registered, never came
        user_id, name = f"{plan.org_id}-attendee-{a}", f"Attendee {a}"
        city = CITIES[a % len(CITIES)]
        joined = start + timedelta(minutes=abs(rng.gauss(0, 4)))
        left = start + timedelta(minutes=60 + rng.uniform(-2, 3))
        if rng.random() < 0.1:
            left = joined + timedelta(minutes=rng.uniform(5, 40))
        stays = [(joined, left)]
        if rng.random() < 0.12 and left - joined > timedelta(minutes=20):  # dropped, came back
            gap = joined + (left - joined) / 2
            stays = [(joined, gap), (gap + timedelta(minutes=rng.uniform(0.5, 5)), left)]
        if rng.random() < 0.15:  # a phone alongside the laptop for a while
            stays.append((joined + timedelta(minutes=10), joined + timedelta(minutes=25)))
        for n, (entry, exit_ts) in enumerate(stays):
            device = DEVICES[(a + n) % len(DEVICES)]
            yield (
                user_id,
                breakout_id,
                f"{user_id}-{n}",
                "live",
                entry,
                max(entry, exit_ts),
                "leave",
                name,
                plan.org_id,
                *city,
                *device,
            )


async def seed(
    connection: Connection, plan: SeedPlan, interval: PartitionInterval = PartitionInterval.MONTH
) -> SeedCounts:
    """Fill the database per `plan` in one transaction, in partitions of `interval` made for its
    days; ids derive from the org, so seeding the same org twice is refused by the primary keys
    instead of doubling its data."""
    counts = SeedCounts()
    first = datetime.combine(plan.last_day - timedelta(days=plan.days), time(0), UTC)
    async with connection.transaction():
        await create_partitions(connection, interval, first, first + timedelta(days=plan.days + 3))
        visits_estimate = plan.schools * plan.users_per_school * plan.days * 3
        first_event_id = int(await connection.fetchval(RESERVE_EVENT_IDS, visits_estimate)) - (
            visits_estimate - 1
        )
        rows = school_rows(plan, first_event_id)
        if len(rows.events) > visits_estimate:
            raise RuntimeError("more check events than ids reserved")
        await connection.copy_records_to_table(
            "schools",
            records=rows.schools,
            columns=["id", "org_id", "name", "time_zone", "school_days"],
        )
        await connection.copy_records_to_table(
            "school_users",
            records=rows.users,
            columns=["org_id", "id", "school_id", "name", "email"],
        )
        await connection.copy_records_to_table(
            "check_events",
            records=rows.events,
            columns=["org_id", "id", "school_id", "user_id", "kind", "at", "temperature", "image"],
        )
        await connection.copy_records_to_table(
            "school_visits",
            records=rows.visits,
            columns=[
                "org_id",
                "checkin_id",
                "checkout_id",
                "school_id",
                "user_id",
                "entry_ts",
                "exit_ts",
            ],
        )
        await connection.copy_records_to_table(
            "fever_alerts",
            records=rows.alerts,
            columns=["org_id", "event_id", "school_id", "user_id", "temperature", "at"],
        )
        counts.schools, counts.users = len(rows.schools), len(rows.users)
        counts.check_events, counts.fever_alerts = len(rows.events), len(rows.alerts)
        breakouts = []
        for b in range(plan.breakouts):
            day = plan.last_day - timedelta(days=b % plan.days)
            start = datetime.combine(day, time(10 + b % 6), UTC)
            breakouts.append(
                (
                    f"{plan.org_id}-breakout-{b}",
                    plan.org_id,
                    f"Class {b}",
                    start,
                    start + timedelta(hours=1),
                    start - timedelta(hours=1),  # its record begins before its first session
                )
            )
        await connection.copy_records_to_table(
            "breakouts",
            records=breakouts,
            columns=["id", "org_id", "name", "starts_at", "ends_at", "sessions_from"],
        )
        for breakout_id, _, _, start, _, _ in breakouts:
            sessions = list(_sessions(plan, breakout_id, start))
            await connection.copy_records_to_table(
                "attendance_sessions", records=sessions, columns=list(SESSION_COLUMNS)
            )
            counts.sessions += len(sessions)
        counts.breakouts = len(breakouts)
    return counts
