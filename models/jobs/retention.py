"""Retention: old closed sessions (and their rollups and comments) are anonymised or deleted,
whole time partitions at once where they can be; finished webhook deliveries go."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from config import RetentionMode
from models.domain.records import now_ms
from models.jobs.partitions import RETAINED

logger = logging.getLogger(__name__)

PURGE_BATCH_ROWS = 5_000
# The server purges at start and then daily (RETENTION_DAYS > 0).
RETENTION_EVERY_S = 86_400.0
# Any fixed number; with several nodes running the daily purge, one does it at a time.
_PURGE_LOCK_KEY = 71402025

# Deleting drops every partition that holds only times before the cut (no row-by-row delete,
# no bloat), then deletes row by row in the one that straddles it (and in the default one).
DROP_OLD_PARTITIONS = "SELECT drop_time_partitions($1, $2)"

# Anonymising keeps what counts attendance (user id, times, reason, country, device kind) and
# drops what identifies or locates a person: name, address, User-Agent, city, coordinates. It
# reads from $3 on: the partitions before are marked done (ANONYMISED_UNTIL).
ANONYMISE_OLD_SESSIONS = """
UPDATE attendance_sessions AS s
SET user_name = NULL, client_ip = NULL, user_agent = NULL, city = NULL, region = NULL,
    latitude = NULL, longitude = NULL
FROM (
    SELECT user_id, breakout_id, session_id, entry_ts FROM attendance_sessions
    WHERE entry_ts < $1 AND entry_ts >= $3 AND exit_ts IS NOT NULL
      AND (user_name IS NOT NULL OR client_ip IS NOT NULL OR user_agent IS NOT NULL
           OR city IS NOT NULL OR region IS NOT NULL OR latitude IS NOT NULL)
    LIMIT $2
) AS old
WHERE s.user_id = old.user_id AND s.breakout_id = old.breakout_id
  AND s.session_id = old.session_id AND s.entry_ts = old.entry_ts
"""
# Where anonymising starts: after the oldest partitions of `$1`, all of them marked done.
ANONYMISED_UNTIL = """
SELECT coalesce(max(t.upper), '-infinity') FROM time_partitions AS t
WHERE t.parent = $1 AND NOT t.is_default
  AND NOT EXISTS (
      SELECT FROM time_partitions AS o
      WHERE o.parent = $1 AND NOT o.is_default AND coalesce(o.upper, 'infinity') <= t.upper
        AND o.partition NOT IN (SELECT a.partition FROM anonymised_partitions AS a))
"""
# Once a purge is through, each partition of `$1` wholly before the cut $2 is done: unless a
# session in it is still open (its exit, and then its anonymising, are still to come), or, for
# the rollups, a session that began before its end is (its days, rolled up once it closes,
# would carry its name). A day redone from sessions already anonymised carries none.
MARK_ANONYMISED = """
INSERT INTO anonymised_partitions (partition)
SELECT t.partition FROM time_partitions AS t
WHERE t.parent = $1 AND NOT t.is_default AND t.upper <= $2
  AND ($1 NOT IN ('attendance_sessions', 'presence_daily_breakouts') OR NOT EXISTS (
      SELECT FROM attendance_sessions AS s
      WHERE s.exit_ts IS NULL AND s.entry_ts < t.upper
        AND ($1 = 'presence_daily_breakouts' OR s.entry_ts >= coalesce(t.lower, '-infinity'))))
ON CONFLICT DO NOTHING
"""

DELETE_OLD_SESSIONS = """
DELETE FROM attendance_sessions AS s
USING (
    SELECT user_id, breakout_id, session_id, entry_ts FROM attendance_sessions
    WHERE entry_ts < $1 AND exit_ts IS NOT NULL
    LIMIT $2
) AS old
WHERE s.user_id = old.user_id AND s.breakout_id = old.breakout_id
  AND s.session_id = old.session_id AND s.entry_ts = old.entry_ts
"""
# A deleted session's interruptions and activity go by their own time (never before their
# session began): those before the cut, whole partitions first. An anonymised session keeps
# them: a state and a time identify nobody.
DELETE_OLD_INTERRUPTIONS = """
DELETE FROM session_interruptions AS i
USING (
    SELECT user_id, breakout_id, session_id, left_at FROM session_interruptions
    WHERE left_at < $1 LIMIT $2
) AS old
WHERE i.user_id = old.user_id AND i.breakout_id = old.breakout_id
  AND i.session_id = old.session_id AND i.left_at = old.left_at
"""
DELETE_OLD_ACTIVITY = """
DELETE FROM session_activity AS a
USING (
    SELECT user_id, breakout_id, session_id, at FROM session_activity WHERE at < $1 LIMIT $2
) AS old
WHERE a.user_id = old.user_id AND a.breakout_id = old.breakout_id
  AND a.session_id = old.session_id AND a.at = old.at
"""

# Breakout rollups copy the user's id and name per day: they go (or lose the name) with the
# sessions they were made of, whole partitions first like them. (School visits and their
# rollups are the school's own record, kept by its admins.)
DELETE_OLD_ROLLUPS = """
DELETE FROM presence_daily_breakouts AS r
USING (
    SELECT place_kind, place_id, day, user_id FROM presence_daily_breakouts
    WHERE day < ($1 AT TIME ZONE 'UTC')::date
    LIMIT $2
) AS old
WHERE r.place_kind = old.place_kind AND r.place_id = old.place_id AND r.day = old.day
  AND r.user_id = old.user_id
"""
ANONYMISE_OLD_ROLLUPS = """
UPDATE presence_daily_breakouts AS r SET user_name = NULL
FROM (
    SELECT place_kind, place_id, day, user_id FROM presence_daily_breakouts
    WHERE day < ($1 AT TIME ZONE 'UTC')::date AND day >= ($3 AT TIME ZONE 'UTC')::date
      AND user_name IS NOT NULL
    LIMIT $2
) AS old
WHERE r.place_kind = old.place_kind AND r.place_id = old.place_id AND r.day = old.day
  AND r.user_id = old.user_id
"""
# Comments go with the sessions of their days: anonymising drops the name and the text (which
# says more about a person than anything else) and keeps who posted when, which engagement counts.
ANONYMISE_OLD_COMMENTS = """
UPDATE comments AS c SET user_name = NULL, text = NULL
FROM (
    SELECT org_id, breakout_id, id, created_at FROM comments
    WHERE created_at < $1 AND created_at >= $3 AND (user_name IS NOT NULL OR text IS NOT NULL)
    LIMIT $2
) AS old
WHERE c.org_id = old.org_id AND c.breakout_id = old.breakout_id AND c.id = old.id
  AND c.created_at = old.created_at
"""
DELETE_OLD_COMMENTS = """
DELETE FROM comments AS c
USING (
    SELECT org_id, breakout_id, id, created_at FROM comments WHERE created_at < $1 LIMIT $2
) AS old
WHERE c.org_id = old.org_id AND c.breakout_id = old.breakout_id AND c.id = old.id
  AND c.created_at = old.created_at
"""

# Webhook deliveries are copies of reports sent elsewhere: once finished (delivered or given up)
# and older than the cut they go, in either mode, with events no delivery needs any more.
# (Corrections, rule versions and certificates are the evidence itself: retention keeps them.)
DELETE_OLD_WEBHOOK_DELIVERIES = """
DELETE FROM webhook_deliveries AS d
USING (
    SELECT d.id FROM webhook_deliveries AS d
    JOIN webhook_events AS e ON e.id = d.event_id
    WHERE e.occurred_at < $1 AND (d.delivered_at IS NOT NULL OR d.gave_up_at IS NOT NULL)
    LIMIT $2
) AS old
WHERE d.id = old.id
"""
DELETE_OLD_WEBHOOK_EVENTS = """
DELETE FROM webhook_events AS e
USING (
    SELECT w.id FROM webhook_events AS w
    WHERE w.occurred_at < $1
      AND NOT EXISTS (SELECT FROM webhook_deliveries AS d WHERE d.event_id = w.id)
    LIMIT $2
) AS old
WHERE e.id = old.id
"""

TRY_LOCK = "SELECT pg_try_advisory_lock($1)"
UNLOCK = "SELECT pg_advisory_unlock($1)"


@dataclass(slots=True)
class Purged:
    """What a purge did: sessions anonymised or deleted row by row, and whole partitions
    dropped (their rows are not counted: that would mean reading them)."""

    sessions: int = 0
    partitions: list[str] = field(default_factory=list)


async def purge_sessions(
    pool: asyncpg.Pool, *, older_than_days: int, mode: RetentionMode, now: datetime
) -> Purged:
    """Purge closed sessions that began more than `older_than_days` ago, their comments and
    the breakouts' rollups of those days (and, deleting, their interruptions and activity)
    likewise.

    Works in batches so a first purge over years of data never holds one huge transaction.
    Open sessions are left alone whatever their age: their exit is still to be recorded.
    """
    cutoff = now - timedelta(days=older_than_days)
    purged = Purged()
    if mode is RetentionMode.DELETE:
        async with pool.acquire() as connection:
            for table, _ in RETAINED:
                purged.partitions += await connection.fetchval(DROP_OLD_PARTITIONS, table, cutoff)
        purged.sessions = await _in_batches(pool, DELETE_OLD_SESSIONS, cutoff)
        await _in_batches(pool, DELETE_OLD_INTERRUPTIONS, cutoff)
        await _in_batches(pool, DELETE_OLD_ACTIVITY, cutoff)
        await _in_batches(pool, DELETE_OLD_COMMENTS, cutoff)
        await _in_batches(pool, DELETE_OLD_ROLLUPS, cutoff)
    else:
        purged.sessions = await _anonymise(
            pool, "attendance_sessions", ANONYMISE_OLD_SESSIONS, cutoff
        )
        await _anonymise(pool, "comments", ANONYMISE_OLD_COMMENTS, cutoff)
        await _anonymise(pool, "presence_daily_breakouts", ANONYMISE_OLD_ROLLUPS, cutoff)
    await _in_batches(pool, DELETE_OLD_WEBHOOK_DELIVERIES, cutoff)
    await _in_batches(pool, DELETE_OLD_WEBHOOK_EVENTS, cutoff)
    return purged


async def _anonymise(pool: asyncpg.Pool, table: str, statement: str, cutoff: datetime) -> int:
    """Anonymise `table`'s rows before the cut in the partitions not yet done, then mark those
    wholly before it done."""
    async with pool.acquire() as connection:
        since = await connection.fetchval(ANONYMISED_UNTIL, table)
    count = await _in_batches(pool, statement, cutoff, since)
    async with pool.acquire() as connection:
        await connection.execute(MARK_ANONYMISED, table, cutoff)
    return count


async def _in_batches(pool: asyncpg.Pool, statement: str, cutoff: datetime, *more: object) -> int:
    """Run a purge statement (`$1` the cut-off, `$2` a batch size, then `more`) until it finds
    no more."""
    total = 0
    while True:
        async with pool.acquire() as connection:
            status = await connection.execute(statement, cutoff, PURGE_BATCH_ROWS, *more)
        done = int(status.rsplit(" ", 1)[-1])
        total += done
        if done < PURGE_BATCH_ROWS:
            return total


async def purge_round(pool: asyncpg.Pool, *, older_than_days: int, mode: RetentionMode) -> None:
    """One round of the daily retention loop; with several nodes, one purges at a time."""
    async with pool.acquire() as connection:
        if not await connection.fetchval(TRY_LOCK, _PURGE_LOCK_KEY):
            return
        try:
            purged = await purge_sessions(
                pool, older_than_days=older_than_days, mode=mode, now=now_ms()
            )
            logger.info(
                "retention: %s %d sessions; dropped partitions: %s",
                mode.value,
                purged.sessions,
                ", ".join(purged.partitions) or "none",
            )
        finally:
            await connection.fetchval(UNLOCK, _PURGE_LOCK_KEY)
