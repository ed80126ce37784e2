"""School attendance reports: present and absent users per day, week or month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.domain.access import READ_SCHOOLS, SCHOOL_READERS, require_role
from models.domain.records import Identity, org_place
from models.reports.rules import (
    AppliedRule,
    Period,
    PeriodFigures,
    PresenceRules,
    RuleBasis,
    UserDays,
    aggregate_presence,
    report_range,
    school_rules,
)
from models.schools.directory import fetch_school
from models.schools.records import School
from models.store.database import record_of
from models.store.replica import ReadsConnections
from models.store.rules import RuleScope, RuleVersion, fetch_server_versions, fetch_versions

SELECT_SCHOOL_USERS = "SELECT id, name FROM school_users WHERE org_id = $1 AND school_id = $2"
# In the school now: a visit still open that began today (one left open since an earlier day
# is a missed check-out, not presence).
SELECT_CHECKED_IN = """
SELECT user_id FROM school_visits
WHERE org_id = $1 AND school_id = $2 AND exit_ts IS NULL AND entry_ts >= $3 AND entry_ts <= $4
"""
# Each user's days at the school's place $1 per period (date_trunc: ISO weeks, calendar
# months), summed where they are; a day is present when it reaches $6 seconds, or (today, $4)
# when the user is in now ($8), unless a correction's mark in force for that day (up to today)
# says otherwise; the recorded figures beside.
# presence_days() (migration 0003) reads rollups and computes stale days live.
SELECT_SCHOOL_PERIODS = """
WITH recorded AS (
    SELECT d.user_id, d.day, d.seconds,
           d.seconds >= $6 OR (d.day = $4 AND d.user_id = ANY($8::text[])) AS present
    FROM presence_days('school', ARRAY[$1::text], $2, $3, $5, true) AS d
),
marks AS (
    SELECT user_id, day, mark FROM school_day_corrections
    WHERE org_id = split_part($1, '/', 1) AND school_id = split_part($1, '/', 2)
      AND day BETWEEN $2 AND least($3, $4)
),
day_rule AS (
    SELECT coalesce(r.user_id, m.user_id) AS user_id, coalesce(r.day, m.day) AS day,
           coalesce(r.seconds, 0) AS seconds, coalesce(r.present, false) AS recorded_present,
           CASE m.mark WHEN 'present' THEN true WHEN 'absent' THEN false
               ELSE coalesce(r.present, false) END AS present,
           m.mark IS NOT NULL AS corrected,
           extract(isodow FROM coalesce(r.day, m.day))::int = ANY($9::int[]) AS school_day
    FROM recorded AS r
    FULL JOIN marks AS m ON m.user_id = r.user_id AND m.day = r.day
)
SELECT user_id, date_trunc($7, day::timestamp)::date AS period, sum(seconds) AS seconds,
       count(*) FILTER (WHERE present) AS present_days,
       count(*) FILTER (WHERE present AND school_day) AS present_school_days,
       count(*) FILTER (WHERE recorded_present) AS recorded_present_days,
       count(*) FILTER (WHERE recorded_present AND school_day) AS recorded_present_school_days,
       count(*) FILTER (WHERE corrected) AS corrected_days
FROM day_rule
GROUP BY 1, 2
"""


@dataclass(frozen=True, slots=True)
class SchoolReport:
    school: School
    first: date
    last: date
    period: Period
    rules: PresenceRules
    rule: AppliedRule
    # Every user of the school by id, with their name.
    names: dict[str, str]
    periods: list[PeriodFigures]


class SchoolReports:
    """Read-only reports over school visits and their daily rollups."""

    def __init__(self, pool: ReadsConnections, *, server: RuleVersion) -> None:
        self._pool = pool
        # The server's default thresholds as this node runs them.
        self._server = server

    async def rule_versions(
        self, identity: Identity, school_id: str
    ) -> tuple[list[RuleVersion], list[RuleVersion]]:
        """Every version of the school's own thresholds and of the server's, oldest first."""
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        async with self._pool.acquire() as connection:
            await fetch_school(connection, school_id, identity.org_id)
            own = await fetch_versions(connection, identity.org_id, RuleScope.SCHOOL, school_id)
            return own, await fetch_server_versions(connection)

    async def school_attendance(
        self,
        identity: Identity,
        school_id: str,
        *,
        first: date,
        last: date,
        period: Period,
        now: datetime,
        detail: bool,
        basis: RuleBasis = RuleBasis.CURRENT,
    ) -> SchoolReport:
        """Present and absent users of the school per day, week or month, in its time zone,
        under today's thresholds or those that held at the end of the range (`basis`)."""
        require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
        report_range(first, last)
        async with self._pool.acquire() as connection:
            school = await fetch_school(connection, school_id, identity.org_id)
            zone = ZoneInfo(school.time_zone)
            local_now = now.astimezone(zone)
            today = local_now.date()
            midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
            names = {
                row["id"]: row["name"]
                for row in await connection.fetch(SELECT_SCHOOL_USERS, identity.org_id, school_id)
            }
            in_now = {
                row["user_id"]
                for row in await connection.fetch(
                    SELECT_CHECKED_IN, identity.org_id, school_id, midnight, now
                )
            }
            range_end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
            rules, rule = school_rules(
                school.school_days,
                await fetch_versions(connection, identity.org_id, RuleScope.SCHOOL, school_id),
                [] if basis is RuleBasis.CURRENT else await fetch_server_versions(connection),
                (school.day_min_hours, school.period_min_percent),
                self._server,
                basis,
                None if basis is RuleBasis.CURRENT else min(range_end, now),
            )
            rows = await connection.fetch(
                SELECT_SCHOOL_PERIODS,
                org_place(identity.org_id, school_id),
                first,
                last,
                today,
                now,
                rules.day_min_seconds,
                period.value,
                list(in_now),
                sorted(rules.school_days),
            )
        days = {(row["user_id"], row["period"]): record_of(UserDays, row) for row in rows}
        figures = aggregate_presence(
            users=sorted(names),
            days=days,
            first=first,
            last=last,
            today=today,
            period=period,
            rules=rules,
            detail=detail,
        )
        return SchoolReport(school, first, last, period, rules, rule, names, figures)
