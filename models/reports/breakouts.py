"""Breakout reports: a breakout's sessions and attendance, and an org's breakouts per period."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import asyncpg

from models.domain.access import SESSION_READERS, require_can_read_sessions, require_role
from models.domain.records import (
    AttendanceSession,
    Breakout,
    Identity,
    ids_of_place,
    org_place,
)
from models.reports.engagement import BreakoutAnalytics, fetch_analytics
from models.reports.rules import (
    AppliedRule,
    BreakoutPolicy,
    BreakoutRules,
    Period,
    RuleBasis,
    period_end,
    period_start,
    report_range,
)
from models.store.breakouts import BreakoutDirectory
from models.store.database import Connection, record_of
from models.store.replica import ReadsConnections
from models.store.rules import (
    RuleScope,
    RuleVersion,
    fetch_server_versions,
    fetch_versions,
    fetch_versions_of,
)
from models.store.sessions import OF_BREAKOUT, fetch_breakout_sessions

_FIRST_ENTRY = "SELECT min(s.entry_ts) FROM attendance_sessions AS s WHERE "
SELECT_FIRST_ENTRY = _FIRST_ENTRY + OF_BREAKOUT  # noqa: S608 - two constants, no input
# The users of a breakout whose clients reported activity, up to $3 of them.
SELECT_REPORTERS = """
SELECT DISTINCT a.user_id FROM session_activity AS a
WHERE a.org_id = $1 AND a.breakout_id = $2 AND a.at >= breakout_record_begins($1, $2)
LIMIT $3
"""
# Engagement is read for the reporting users by name up to this many (~0.1 s for 1,000 in a
# breakout of 100,000 sessions); past it, for every user at once (~2 s there when all report),
# since each name costs a probe of every partition it reaches.
ENGAGED_BY_NAME = 1_000
# The list of names is planned as the constant it is, looked up by hashing: a plan made for
# any list would compare each row with every name.
PLAN_EACH_CALL = "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"
# Per user: attended live time (closed sessions, overlaps once), sessions, first join, last
# leave, time watching the recording, sessions still open, active and idle time (the view
# user_engagement), comments still shown, and the active corrections: the recorded time and
# presence beside the corrected ones (a stay a correction adds joins the time, each moment once;
# a mark in force decides presence). One page of users from after $5, with totals over all of
# them. $1: the breakout's place (org_id/id); $6: the seconds the breakout's rule requires
# (BreakoutPolicy.required_seconds); $8: one user only (NULL: all).
SELECT_BREAKOUT_ATTENDANCE = """
WITH attended AS (
    SELECT d.user_id, max(d.user_name) AS user_name, sum(d.seconds) AS seconds,
           sum(d.entries)::integer AS sessions, min(d.first_in) AS first_join,
           max(d.last_out) AS last_leave
    FROM presence_days('breakout', ARRAY[$1::text], $2, $3, $4, false) AS d
    GROUP BY d.user_id
),
watched AS (
    SELECT d.user_id, max(d.user_name) AS user_name, sum(d.seconds) AS seconds,
           sum(d.entries)::integer AS sessions
    FROM presence_days('recording', ARRAY[$1::text], $2, $3, $4, false) AS d
    GROUP BY d.user_id
),
still_in AS (
    SELECT user_id, max(user_name) AS user_name, count(*)::integer AS open_sessions
    FROM attendance_sessions
    WHERE org_id = split_part($1, '/', 1) AND breakout_id = split_part($1, '/', 2)
      AND entry_ts >= breakout_record_begins(split_part($1, '/', 1), split_part($1, '/', 2))
      AND exit_ts IS NULL
    GROUP BY user_id
),
-- Active or idle time needs a client that reported it: every other user's time is `unknown`
-- (0 here). $9: the users whose clients reported (SELECT_REPORTERS), the view worked out for
-- them alone (the list reaches its scans); NULL: too many to name, the view for every user.
engaged AS (
    SELECT user_id, active_seconds, idle_seconds
    FROM user_engagement
    WHERE org_id = split_part($1, '/', 1) AND breakout_id = split_part($1, '/', 2)
      AND ($9::text[] IS NULL OR user_id = ANY($9::text[]))
),
posted AS (
    SELECT user_id, count(*)::integer AS comments
    FROM comments
    WHERE org_id = split_part($1, '/', 1) AND breakout_id = split_part($1, '/', 2)
      AND created_at >= breakout_record_begins(split_part($1, '/', 1), split_part($1, '/', 2))
      AND deleted_at IS NULL
    GROUP BY user_id
),
fixes AS (
    SELECT user_id, mark, correction_ids
    FROM breakout_corrections
    WHERE org_id = split_part($1, '/', 1) AND breakout_id = split_part($1, '/', 2)
),
restayed AS (
    SELECT user_id, seconds
    FROM corrected_breakout_seconds
    WHERE org_id = split_part($1, '/', 1) AND breakout_id = split_part($1, '/', 2)
),
recorded AS (
    SELECT coalesce(a.user_id, w.user_id, o.user_id, f.user_id) AS user_id,
           coalesce(a.user_name, w.user_name, o.user_name) AS user_name,
           coalesce(a.seconds, 0) AS recorded_seconds, coalesce(a.sessions, 0) AS sessions,
           a.first_join, a.last_leave, coalesce(w.seconds, 0) AS on_demand_seconds,
           coalesce(w.sessions, 0) AS on_demand_sessions,
           coalesce(o.open_sessions, 0) AS open_sessions,
           f.mark, coalesce(f.correction_ids, '{}') AS corrections
    FROM attended AS a
    FULL JOIN watched AS w ON w.user_id = a.user_id
    FULL JOIN still_in AS o ON o.user_id = coalesce(a.user_id, w.user_id)
    FULL JOIN fixes AS f ON f.user_id = coalesce(a.user_id, w.user_id, o.user_id)
),
everyone AS (
    SELECT r.*, coalesce(s.seconds, r.recorded_seconds) AS seconds,
           r.recorded_seconds > 0 AND r.recorded_seconds >= $6 AS recorded_present,
           CASE r.mark WHEN 'present' THEN true WHEN 'absent' THEN false
               ELSE coalesce(s.seconds, r.recorded_seconds) > 0
                    AND coalesce(s.seconds, r.recorded_seconds) >= $6
           END AS present,
           coalesce(e.active_seconds, 0) AS active_seconds,
           coalesce(e.idle_seconds, 0) AS idle_seconds, coalesce(c.comments, 0) AS comments
    FROM recorded AS r
    LEFT JOIN restayed AS s ON s.user_id = r.user_id
    LEFT JOIN engaged AS e ON e.user_id = r.user_id
    LEFT JOIN posted AS c ON c.user_id = r.user_id
),
totals AS (
    SELECT count(*) AS users, count(*) FILTER (WHERE present) AS present,
           count(*) FILTER (WHERE recorded_present) AS recorded_present,
           count(*) FILTER (WHERE corrections <> '{}') AS corrected
    FROM everyone
)
SELECT t.users, t.present AS present_users, t.recorded_present AS recorded_present_users,
       t.corrected AS corrected_users, p.*
FROM totals AS t
LEFT JOIN LATERAL (
    SELECT * FROM everyone
    WHERE user_id > $5 AND ($8::text IS NULL OR user_id = $8)
    ORDER BY user_id LIMIT $7
) AS p ON true
"""
# Per period (day, week or month, $5) from $2 to $3 and breakout ($1, org_id/id): the users
# who met its rule (their time in it during the period at least $6, the seconds the rule
# requires: BreakoutPolicy.present) and those who fell short; the users with active
# corrections there ($7, $8: place and user) apart, with their time, for their corrections to
# decide. And per period, each user with time in any breakout (place_id NULL).
SELECT_ORG_BREAKOUT_PERIODS = """
WITH timed AS (
    SELECT date_trunc($5, d.day::timestamp)::date AS period, d.place_id, d.user_id,
           sum(d.seconds) AS seconds
    FROM presence_days('breakout', $1::text[], $2, $3, $4, false) AS d
    GROUP BY 1, 2, 3
),
judged AS (
    SELECT t.*, f.user_id IS NOT NULL AS fixed, t.seconds > 0 AND t.seconds >= r.seconds AS met
    FROM timed AS t
    JOIN unnest($1::text[], $6::float8[]) AS r(place_id, seconds) ON r.place_id = t.place_id
    LEFT JOIN unnest($7::text[], $8::text[]) AS f(place_id, user_id)
      ON f.place_id = t.place_id AND f.user_id = t.user_id
)
SELECT j.period, j.place_id, j.user_id,
       count(*) FILTER (WHERE NOT j.fixed AND j.met) AS met,
       count(*) FILTER (WHERE NOT j.fixed AND NOT j.met) AS missed,
       coalesce(array_agg(j.user_id) FILTER (WHERE j.fixed), '{}') AS fixed_users,
       coalesce(array_agg(j.seconds) FILTER (WHERE j.fixed), '{}') AS fixed_seconds
FROM judged AS j
GROUP BY GROUPING SETS ((j.period, j.place_id), (j.period, j.user_id))
"""
# A big organisation's month is some 100,000 (breakout, user) pairs: grouped in memory, not on
# disk; and matched to their breakouts' rules by hashing the ~1,000 rules, not by sorting the
# pairs (the planner, which cannot see how many pairs come, would sort them: a quarter of the
# query's time).
REPORT_SETTINGS = (
    "SELECT set_config('work_mem', '64MB', true), set_config('enable_mergejoin', 'off', true)"
)
# The org's users with active corrections per breakout: the mark in force, the time with the
# stays they add (NULL when none), and when a stay of theirs began (else the breakout's start:
# where a corrected user without recorded time is counted).
SELECT_ORG_CORRECTIONS = """
SELECT c.breakout_id, c.user_id, c.mark, s.seconds AS corrected_seconds,
       coalesce(
           (SELECT min(a.stay_from) FROM attendance_corrections AS a
            WHERE a.org_id = c.org_id AND a.place_kind = 'breakout'
              AND a.place_id = c.breakout_id AND a.user_id = c.user_id AND a.kind = 'stay'
              AND a.withdrawn_at IS NULL),
           b.starts_at
       ) AS anchor
FROM breakout_corrections AS c
JOIN breakouts AS b ON b.org_id = c.org_id AND b.id = c.breakout_id
LEFT JOIN corrected_breakout_seconds AS s
  ON s.org_id = c.org_id AND s.breakout_id = c.breakout_id AND s.user_id = c.user_id
WHERE c.org_id = $1
"""
# The org's breakouts with time counted from $2 to $3 (a rolled-up or a stale day there: a day
# with sessions is stale until it is rolled up), or with active corrections: an organisation
# holds a year of breakouts, a month's report needs that month's. (One probe of the rollups' key
# per breakout.)
SELECT_ORG_BREAKOUTS = """
SELECT b.id, b.name, b.starts_at, b.ends_at, b.ended_at, b.present_min_minutes,
       b.present_min_percent
FROM breakouts AS b
WHERE b.org_id = $1
  AND (EXISTS (SELECT FROM presence_daily AS r
               WHERE r.place_kind = 'breakout' AND r.place_id = b.org_id || '/' || b.id
                 AND r.day BETWEEN $2 AND $3)
       OR EXISTS (SELECT FROM presence_daily_stale AS st
                  WHERE st.place_kind = 'breakout' AND st.place_id = b.org_id || '/' || b.id
                    AND st.day BETWEEN $2 AND $3)
       OR EXISTS (SELECT FROM breakout_corrections AS c
                  WHERE c.org_id = b.org_id AND c.breakout_id = b.id))
"""

# The live sessions of a breakout as moves of its viewer count: +1 at each entry and resume,
# -1 at each exit and interruption (a leave sorts before a join at the same instant), with the
# count after each; per bucket of $4 seconds: joins and leaves (entries and exits, not
# interruptions), the highest count, and the count at its end.
SELECT_SPAN = (
    "SELECT min(s.entry_ts) AS first_in, max(coalesce(s.exit_ts, $3)) AS last_out\n"
    "FROM attendance_sessions AS s WHERE s.session_type = 'live' AND " + OF_BREAKOUT
)
SELECT_TIMELINE = """
WITH s AS (
    SELECT user_id, breakout_id, session_id, entry_ts, exit_ts FROM attendance_sessions
    WHERE org_id = $1 AND breakout_id = $2 AND session_type = 'live'
      AND entry_ts >= breakout_record_begins($1, $2)
),
gaps AS (
    SELECT i.left_at, i.back_at FROM session_interruptions AS i
    JOIN s USING (user_id, breakout_id, session_id)
    WHERE i.left_at >= breakout_record_begins($1, $2)
),
moves AS (
    SELECT entry_ts AS at, 1 AS step, true AS counted FROM s
    UNION ALL SELECT exit_ts, -1, true FROM s WHERE exit_ts IS NOT NULL
    UNION ALL SELECT left_at, -1, false FROM gaps
    UNION ALL SELECT back_at, 1, false FROM gaps
),
levels AS (
    SELECT at, step, counted,
           sum(step) OVER (ORDER BY at, step ROWS UNBOUNDED PRECEDING) AS level
    FROM moves WHERE at <= $3
)
SELECT floor(extract(epoch FROM at) / $4)::bigint AS bucket,
       count(*) FILTER (WHERE step = 1 AND counted)::integer AS joins,
       count(*) FILTER (WHERE step = -1 AND counted)::integer AS leaves,
       max(level)::integer AS peak,
       ((array_agg(level ORDER BY at DESC, step DESC))[1])::integer AS level
FROM levels GROUP BY 1 ORDER BY 1
"""
# Users and live sessions per device type, browser, OS and country.
SELECT_BREAKDOWNS = """
SELECT device_type, browser, os, country_code,
       GROUPING(device_type, browser, os, country_code) AS grouping,
       count(DISTINCT user_id)::integer AS users, count(*)::integer AS sessions
FROM attendance_sessions
WHERE org_id = $1 AND breakout_id = $2 AND session_type = 'live'
  AND entry_ts >= breakout_record_begins($1, $2)
GROUP BY GROUPING SETS ((device_type), (browser), (os), (country_code))
"""
# GROUPING(...) of each set: the one column grouped is the bit that is 0.
_BREAKDOWN_OF = {0b0111: "device_type", 0b1011: "browser", 0b1101: "os", 0b1110: "country_code"}
MAX_BUCKETS = 2000


@dataclass(frozen=True, slots=True)
class TimelineBucket:
    """Live viewers (sessions) of one stretch of a breakout: joins and leaves in it, the most
    at once, and how many at its end."""

    start: datetime
    joins: int
    leaves: int
    peak: int
    viewers: int


@dataclass(frozen=True, slots=True)
class Timeline:
    step_s: int
    buckets: list[TimelineBucket]


@dataclass(frozen=True, slots=True)
class Share:
    """Users and sessions of a breakout with one value of a client property (None: unknown)."""

    value: str | None
    users: int
    sessions: int


def timeline_step(span_s: float, wanted: int | None) -> int:
    """Bucket seconds: as asked, but never more than MAX_BUCKETS buckets; else about 200."""
    least = max(1, math.ceil(span_s / MAX_BUCKETS))
    if wanted is not None:
        return max(wanted, least)
    for step in (1, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400):
        if span_s / step <= 200:
            return max(step, least)
    return max(86400, least)


Moves = tuple[int, int, int, int, int]  # bucket, joins, leaves, peak, count at its end


def fill_timeline(rows: list[Moves], first: int, last: int, step_s: int) -> list[TimelineBucket]:
    """Every bucket from `first` to `last` (bucket numbers): those without moves keep the count
    the one before ended with."""
    found = {row[0]: row for row in rows}
    buckets, level = [], 0
    for number in range(first, last + 1):
        row = found.get(number)
        start = datetime.fromtimestamp(number * step_s, UTC)
        if row is None:
            buckets.append(TimelineBucket(start, 0, 0, level, level))
            continue
        _, joins, leaves, peak, ended = row
        buckets.append(TimelineBucket(start, joins, leaves, max(peak, level), ended))
        level = ended
    return buckets


def _moves(row: asyncpg.Record) -> Moves:
    return (row["bucket"], row["joins"], row["leaves"], row["peak"], row["level"])


@dataclass(frozen=True, slots=True)
class UserAttendance:
    """One user's attendance of one breakout (overlapping sessions counted once).

    `seconds` and `sessions` are live; watching the recording is counted apart and never makes
    a user present."""

    user_id: str
    user_name: str | None
    first_join: datetime | None
    last_leave: datetime | None
    seconds: float
    sessions: int
    on_demand_seconds: float
    on_demand_sessions: int
    open_sessions: int
    # Of the attended time: visible or playing, and idle (README "Engagement").
    active_seconds: float
    idle_seconds: float
    comments: int
    percent: float | None
    present: bool
    # What the sessions alone say, before the active corrections (README "Corrections"):
    # `seconds`, `percent` and `present` are the corrected figures.
    recorded_seconds: float
    recorded_present: bool
    corrections: tuple[int, ...]

    @property
    def corrected(self) -> bool:
        return bool(self.corrections)


@dataclass(frozen=True, slots=True)
class BreakoutReport:
    """A page of the breakout's users (by id) and the totals over all of them."""

    breakout: Breakout
    policy: BreakoutPolicy
    rule: AppliedRule
    total_users: int
    present: int
    # Present users before corrections, and users with an active correction.
    recorded_present: int
    corrected: int
    users: list[UserAttendance]


@dataclass(frozen=True, slots=True)
class BreakoutPeriod:
    """An org's breakouts over one day, week or month: who met each breakout's rule (after
    corrections; `recorded_present` before them)."""

    start: date
    end: date
    breakouts: int
    attendees: int
    present: int
    absent: int
    recorded_present: int
    per_breakout: dict[str, tuple[int, int]]
    # The rule versions each breakout was judged by.
    rules: dict[str, AppliedRule]


@dataclass(slots=True)
class _PeriodTally:
    """One period of an org's breakouts as its rows add up: per breakout, the users present and
    absent; those present before corrections; the attendees."""

    per_breakout: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    recorded_present: int = 0
    attendees: set[str] = field(default_factory=set)

    def judge(self, breakout: Breakout, policy: BreakoutPolicy, fix: _Fix, seconds: float) -> None:
        """Count a corrected user at a breakout: as their corrections say, and as recorded."""
        scheduled = breakout.scheduled_seconds
        self.per_breakout[breakout.id][0 if fix.present(policy, seconds, scheduled) else 1] += 1
        self.recorded_present += policy.present(seconds, scheduled)


@dataclass(frozen=True, slots=True)
class _Fix:
    """A user's active corrections at one breakout, as the org's periods apply them."""

    mark: str | None
    corrected_seconds: float | None
    anchor: datetime | None

    def present(self, policy: BreakoutPolicy, seconds: float, scheduled: float | None) -> bool:
        if self.mark is not None:
            return self.mark == "present"
        return policy.present(self.corrected_seconds or seconds, scheduled)


class BreakoutReports:
    """Read-only reports over sessions and their daily rollups."""

    def __init__(
        self, pool: ReadsConnections, breakouts: BreakoutDirectory, *, rules: BreakoutRules
    ) -> None:
        self._pool = pool
        self._breakouts = breakouts
        self._breakout_rules = rules

    async def breakout_sessions(
        self, identity: Identity, breakout_id: str, skip: int = 0, limit: int | None = None
    ) -> list[AttendanceSession]:
        """The breakout's sessions in entry order (`limit`, None: all, after the first `skip`),
        for its org's analysts, hosts, admins."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_read_sessions(identity, breakout)
        async with self._pool.acquire() as connection:
            return await fetch_breakout_sessions(
                connection, breakout.org_id, breakout.id, skip, limit
            )

    async def breakout_attendance(
        self,
        identity: Identity,
        breakout_id: str,
        now: datetime,
        after: str,
        limit: int | None,
        basis: RuleBasis = RuleBasis.CURRENT,
        only_user: str | None = None,
    ) -> BreakoutReport:
        """Per user: first join, last leave, attended time, sessions, share, present or not,
        under today's rule or the one that held when the breakout ended (`basis`).

        Users come by id, `limit` at a time (None: all) after the id `after`; `only_user`: that
        user alone (the totals are the breakout's all the same).
        """
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_read_sessions(identity, breakout)
        scheduled = breakout.scheduled_seconds
        today = now.astimezone(UTC).date()
        async with self._pool.acquire() as connection:
            own = await fetch_versions(connection, breakout.org_id, RuleScope.BREAKOUT, breakout.id)
            servers = await self._server_versions(connection, basis)
            policy, rule = self._breakout_rules.policy(breakout, own, servers, basis, now)
            first_entry = await connection.fetchval(
                SELECT_FIRST_ENTRY, breakout.org_id, breakout.id
            )
            first_day = today if first_entry is None else first_entry.astimezone(UTC).date()
            # One user's report needs that user's engagement alone (a certificate, say).
            reporters: list[str] | None = [only_user] if only_user is not None else None
            if only_user is None:
                named = await connection.fetch(
                    SELECT_REPORTERS, breakout.org_id, breakout.id, ENGAGED_BY_NAME + 1
                )
                if len(named) <= ENGAGED_BY_NAME:
                    reporters = [row["user_id"] for row in named]
            async with connection.transaction():
                await connection.execute(PLAN_EACH_CALL)
                rows = await connection.fetch(
                    SELECT_BREAKOUT_ATTENDANCE,
                    breakout.place,
                    min(first_day, today),
                    today,
                    now,
                    after,
                    policy.required_seconds(scheduled),
                    limit,
                    only_user,
                    reporters,
                )
        users = [
            record_of(
                UserAttendance,
                row,
                percent=round(100 * row["seconds"] / scheduled, 2) if scheduled else None,
                corrections=tuple(row["corrections"]),
            )
            for row in rows
            if row["user_id"] is not None
        ]
        totals = rows[0]
        return BreakoutReport(
            breakout,
            policy,
            rule,
            total_users=totals["users"],
            present=totals["present_users"],
            recorded_present=totals["recorded_present_users"],
            corrected=totals["corrected_users"],
            users=users,
        )

    async def rule_versions(
        self, identity: Identity, breakout_id: str
    ) -> tuple[list[RuleVersion], list[RuleVersion]]:
        """Every version of the breakout's own rule and of the server's defaults, oldest
        first."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_read_sessions(identity, breakout)
        async with self._pool.acquire() as connection:
            own = await fetch_versions(connection, breakout.org_id, RuleScope.BREAKOUT, breakout.id)
            return own, await fetch_server_versions(connection)

    @staticmethod
    async def _server_versions(connection: Connection, basis: RuleBasis) -> list[RuleVersion]:
        """The server's versions, when the rule that held then is asked for (today's is this
        node's own)."""
        return [] if basis is RuleBasis.CURRENT else await fetch_server_versions(connection)

    async def analytics(
        self, identity: Identity, breakout_id: str, after: str, limit: int | None
    ) -> BreakoutAnalytics:
        """Per user (by id, `limit` at a time after `after`; None: all) the seed's analytics and
        engaged time, and the breakout's summary, for its org's analysts, hosts and admins."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_read_sessions(identity, breakout)
        async with self._pool.acquire() as connection:
            return await fetch_analytics(connection, breakout.org_id, breakout.id, after, limit)

    async def timeline(
        self, identity: Identity, breakout_id: str, now: datetime, step_s: int | None
    ) -> Timeline:
        """Live viewers over time: per bucket of `step_s` seconds (chosen when None) from the
        first join to the last leave (or now, while some are in)."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_read_sessions(identity, breakout)
        async with self._pool.acquire() as connection:
            span = await connection.fetchrow(SELECT_SPAN, breakout.org_id, breakout.id, now)
            if span is None or span["first_in"] is None:
                return Timeline(step_s or 60, [])
            first_in, last_out = span["first_in"], max(span["last_out"], span["first_in"])
            step = timeline_step((last_out - first_in).total_seconds(), step_s)
            rows = await connection.fetch(SELECT_TIMELINE, breakout.org_id, breakout.id, now, step)
        first = math.floor(first_in.timestamp() / step)
        last = math.floor(last_out.timestamp() / step)
        return Timeline(step, fill_timeline([_moves(row) for row in rows], first, last, step))

    async def breakdowns(self, identity: Identity, breakout_id: str) -> dict[str, list[Share]]:
        """Users and sessions of the breakout per device type, browser, OS and country, most
        users first."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_read_sessions(identity, breakout)
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SELECT_BREAKDOWNS, breakout.org_id, breakout.id)
        shares: dict[str, list[Share]] = {column: [] for column in _BREAKDOWN_OF.values()}
        for row in rows:
            column = _BREAKDOWN_OF[row["grouping"]]
            shares[column].append(Share(row[column], row["users"], row["sessions"]))
        for found in shares.values():
            found.sort(key=lambda share: (-share.users, share.value or ""))
        return shares

    async def org_breakouts(
        self,
        identity: Identity,
        *,
        first: date,
        last: date,
        period: Period,
        now: datetime,
        basis: RuleBasis = RuleBasis.CURRENT,
    ) -> list[BreakoutPeriod]:
        """Per period (UTC days): the org's breakouts held, attendees, present and absent.

        A user is present at a breakout of the period when their time in it during the period
        meets the breakout's rule, and absent when they joined but fell short. A user with
        active corrections there is counted as the breakout's report counts them (its mark, or
        its time with the stays added) in each period they have time in; one without recorded
        time, in the period their first added stay (else the breakout) began. Each breakout's
        rule is today's, or the one that held when it ended (`basis`).
        """
        require_role(identity, SESSION_READERS, "read attendance reports")
        report_range(first, last)
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(SELECT_ORG_BREAKOUTS, identity.org_id, first, last)
            breakouts = {row["id"]: Breakout(org_id=identity.org_id, **dict(row)) for row in rows}
            fixes = {
                (row["breakout_id"], row["user_id"]): _Fix(
                    row["mark"], row["corrected_seconds"], row["anchor"]
                )
                for row in await connection.fetch(SELECT_ORG_CORRECTIONS, identity.org_id)
            }
            versions: dict[str, list[RuleVersion]] = defaultdict(list)
            for version in await fetch_versions_of(
                connection, identity.org_id, RuleScope.BREAKOUT, list(breakouts)
            ):
                versions[version.scope_id].append(version)
            servers = await self._server_versions(connection, basis)
            policies = {
                breakout_id: self._breakout_rules.policy(
                    breakout, versions[breakout_id], servers, basis, now
                )
                for breakout_id, breakout in breakouts.items()
            }
            async with connection.transaction():
                await connection.execute(REPORT_SETTINGS)
                rows = await connection.fetch(
                    SELECT_ORG_BREAKOUT_PERIODS,
                    [org_place(identity.org_id, breakout_id) for breakout_id in breakouts],
                    first,
                    last,
                    now,
                    period.value,
                    [
                        policies[breakout_id][0].required_seconds(breakout.scheduled_seconds)
                        for breakout_id, breakout in breakouts.items()
                    ],
                    [org_place(identity.org_id, breakout_id) for breakout_id, _ in fixes],
                    [user_id for _, user_id in fixes],
                )
        tally: dict[date, _PeriodTally] = defaultdict(_PeriodTally)
        timed: set[tuple[str, str]] = set()
        for row in rows:
            counted = tally[row["period"]]
            if row["place_id"] is None:
                counted.attendees.add(row["user_id"])
                continue
            _, breakout_id = ids_of_place(row["place_id"])
            counts = counted.per_breakout[breakout_id]
            counts[0] += row["met"]
            counts[1] += row["missed"]
            counted.recorded_present += row["met"]
            for user_id, seconds in zip(row["fixed_users"], row["fixed_seconds"], strict=True):
                timed.add((breakout_id, user_id))
                counted.judge(
                    breakouts[breakout_id],
                    policies[breakout_id][0],
                    fixes[(breakout_id, user_id)],
                    seconds,
                )
        for (breakout_id, user_id), fix in fixes.items():
            anchor = None if fix.anchor is None else fix.anchor.astimezone(UTC).date()
            if (breakout_id, user_id) in timed or anchor is None or not first <= anchor <= last:
                continue
            counted = tally[period_start(anchor, period)]
            counted.attendees.add(user_id)
            counted.judge(breakouts[breakout_id], policies[breakout_id][0], fix, 0.0)
        return [
            BreakoutPeriod(
                start=max(start, first),
                end=min(period_end(start, period), last),
                breakouts=len(counted.per_breakout),
                attendees=len(counted.attendees),
                present=sum(counts[0] for counts in counted.per_breakout.values()),
                absent=sum(counts[1] for counts in counted.per_breakout.values()),
                recorded_present=counted.recorded_present,
                per_breakout={
                    key: (value[0], value[1]) for key, value in counted.per_breakout.items()
                },
                rules={key: policies[key][1] for key in counted.per_breakout},
            )
            for start, counted in sorted(tally.items())
        ]
