"""Per-breakout, per-user analytics (the seed's): first and last seen, sessions and devices,
device and location mix, comments and engaged time, with a summary of the breakout. Each figure
is computed by the view `breakout_user_analytics` (README "Engagement" says how)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from models.store.database import Connection, record_of

# The breakout's users after the id $3 (at most $4, all when NULL) and its totals over all.
SELECT_ANALYTICS = """
WITH users AS (
    SELECT * FROM breakout_user_analytics WHERE org_id = $1 AND breakout_id = $2
),
summary AS (
    SELECT count(*)::integer AS total_users, coalesce(sum(sessions), 0)::integer AS total_sessions,
           coalesce(sum(comments), 0)::integer AS total_comments,
           count(*) FILTER (WHERE comments > 0)::integer AS total_commenters,
           count(*) FILTER (WHERE attended_seconds > unknown_seconds)::integer AS total_reporting,
           coalesce(sum(attended_seconds), 0) AS total_attended_seconds,
           coalesce(sum(active_seconds), 0) AS total_active_seconds,
           coalesce(sum(idle_seconds), 0) AS total_idle_seconds,
           coalesce(sum(paused_seconds), 0) AS total_paused_seconds,
           coalesce(sum(hidden_seconds), 0) AS total_hidden_seconds,
           coalesce(sum(unknown_seconds), 0) AS total_unknown_seconds
    FROM users
)
SELECT s.*, p.*
FROM summary AS s
LEFT JOIN LATERAL (SELECT * FROM users WHERE user_id > $3 ORDER BY user_id LIMIT $4) AS p ON true
"""


@dataclass(frozen=True, slots=True)
class EngagedTime:
    """Seconds of attended time (closed live sessions, each moment once) by what the user did."""

    attended_seconds: float
    active_seconds: float
    idle_seconds: float
    paused_seconds: float
    hidden_seconds: float
    unknown_seconds: float


@dataclass(frozen=True, slots=True)
class UserAnalytics:
    user_id: str
    user_name: str | None
    first_seen: datetime
    last_seen: datetime
    sessions: int
    live_sessions: int
    open_sessions: int
    devices: int
    device_mix: dict[str, int]
    location_mix: dict[str, int]
    comments: int
    time: EngagedTime


@dataclass(frozen=True, slots=True)
class EngagementSummary:
    users: int
    sessions: int
    comments: int
    commenters: int
    # Users whose clients reported what they were doing for some of their attended time.
    reporting: int
    time: EngagedTime


@dataclass(frozen=True, slots=True)
class BreakoutAnalytics:
    summary: EngagementSummary
    users: list[UserAnalytics]


async def fetch_analytics(
    connection: Connection, org_id: str, breakout_id: str, after: str, limit: int | None
) -> BreakoutAnalytics:
    rows = await connection.fetch(SELECT_ANALYTICS, org_id, breakout_id, after, limit)
    first = rows[0]
    summary = EngagementSummary(
        users=first["total_users"],
        sessions=first["total_sessions"],
        comments=first["total_comments"],
        commenters=first["total_commenters"],
        reporting=first["total_reporting"],
        time=EngagedTime(
            **{name: first[f"total_{name}"] for name in EngagedTime.__dataclass_fields__}
        ),
    )
    users = [
        record_of(
            UserAnalytics,
            row,
            device_mix=json.loads(row["device_mix"]),
            location_mix=json.loads(row["location_mix"]),
            time=record_of(EngagedTime, row),
        )
        for row in rows
        if row["user_id"] is not None
    ]
    return BreakoutAnalytics(summary, users)
