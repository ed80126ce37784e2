"""Attendance sessions in PostgreSQL: batched opens and exits, and reading a breakout's sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

import asyncpg

from models.domain.records import (
    CLIENT_FIELDS,
    AttendanceSession,
    ClientInfo,
    ExitReason,
    SessionType,
)
from models.store.database import Connection, record_of

# A batch of opens and exits is one statement, so one round trip and its own transaction. Each
# kind travels as one array of rows (types session_open_row and session_exit_row, migration
# 0004), the address as text (PostgreSQL parses it faster than asyncpg encodes an inet). An open
# whose exit is in the same batch is inserted closed (the UPDATE cannot see rows its own
# statement inserts). An exit finds its session's partition by the entry time it carries; one
# that lacks it (a journal written before migration 0016, a session another node held) looks in
# every partition. A replayed open (a retry after a lost reply, the journal after a crash)
# changes nothing, except that it closes the row when it carries an exit the row still lacks:
# exit_ts is written once, never before entry_ts. An open goes in only if its breakout had not
# ended when it began, decided here, where the row is written: the batch holds the breakout
# rows FOR SHARE, so an end on another node waits for it (BreakoutDirectory.end). Returns the
# keys of the sessions this batch closed, and of the opens it refused.
WRITE_SESSIONS = """
WITH incoming AS (
    SELECT * FROM unnest($1::session_open_row[])
),
breakout AS (
    SELECT b.org_id, b.id, b.ended_at FROM breakouts AS b
    WHERE (b.org_id, b.id) IN (SELECT org_id, breakout_id FROM incoming)
    FOR SHARE OF b
),
allowed AS (
    SELECT o.* FROM incoming AS o
    LEFT JOIN breakout AS b ON b.org_id = o.org_id AND b.id = o.breakout_id
    WHERE b.ended_at IS NULL OR b.ended_at > o.entry_ts
),
opened AS (
    INSERT INTO attendance_sessions AS s (
        user_id, breakout_id, session_id, session_type, entry_ts, user_name, org_id, client_ip,
        city, region, country_code, latitude, longitude, browser, browser_version, os,
        os_version, device_type, user_agent, node_id, exit_ts, exit_reason
    )
    SELECT o.user_id, o.breakout_id, o.session_id, o.session_type, o.entry_ts, o.user_name,
           o.org_id, o.client_ip::inet, o.city, o.region, o.country_code, o.latitude,
           o.longitude, o.browser, o.browser_version, o.os, o.os_version, o.device_type,
           o.user_agent, o.node_id,
           CASE WHEN o.exit_ts IS NOT NULL THEN greatest(o.exit_ts, o.entry_ts) END,
           o.exit_reason
    FROM allowed AS o
    ON CONFLICT (user_id, breakout_id, session_id, entry_ts) DO UPDATE
    SET exit_ts = greatest(EXCLUDED.exit_ts, s.entry_ts), exit_reason = EXCLUDED.exit_reason
    WHERE s.exit_ts IS NULL AND EXCLUDED.exit_ts IS NOT NULL
      AND s.node_id IS NOT DISTINCT FROM EXCLUDED.node_id
    RETURNING s.user_id, s.breakout_id, s.session_id, s.exit_ts
),
closed AS (
    UPDATE attendance_sessions AS s
    SET exit_ts = greatest(u.exit_ts, s.entry_ts), exit_reason = u.exit_reason
    FROM unnest($2::session_exit_row[]) AS u
    WHERE s.user_id = u.user_id
      AND s.breakout_id = u.breakout_id
      AND s.session_id = u.session_id
      AND s.entry_ts = u.entry_ts
      -- Bounds known before the statement runs: the partitions outside them are not read.
      AND s.entry_ts >= (SELECT min(e.entry_ts) FROM unnest($2::session_exit_row[]) AS e)
      AND s.entry_ts <= (SELECT max(e.entry_ts) FROM unnest($2::session_exit_row[]) AS e)
      AND s.exit_ts IS NULL
      AND (u.node_id IS NULL OR s.node_id IS NOT DISTINCT FROM u.node_id)
    RETURNING s.user_id, s.breakout_id, s.session_id
),
closed_by_key AS (
    UPDATE attendance_sessions AS s
    SET exit_ts = greatest(u.exit_ts, s.entry_ts), exit_reason = u.exit_reason
    FROM unnest($3::session_exit_row[]) AS u
    WHERE s.user_id = u.user_id
      AND s.breakout_id = u.breakout_id
      AND s.session_id = u.session_id
      AND s.exit_ts IS NULL
      AND (u.node_id IS NULL OR s.node_id IS NOT DISTINCT FROM u.node_id)
    RETURNING s.user_id, s.breakout_id, s.session_id
)
SELECT true AS closed, user_id, breakout_id, session_id FROM opened WHERE exit_ts IS NOT NULL
UNION ALL
SELECT true, user_id, breakout_id, session_id FROM closed
UNION ALL
SELECT true, user_id, breakout_id, session_id FROM closed_by_key
UNION ALL
SELECT false, o.user_id, o.breakout_id, o.session_id FROM incoming AS o
WHERE (o.user_id, o.breakout_id, o.session_id) NOT IN (
    SELECT a.user_id, a.breakout_id, a.session_id FROM allowed AS a)
"""

# Every column of a session, the client's named as ClientInfo's fields (CLIENT_FIELDS).
_SESSION_COLUMNS = """
s.user_id, s.breakout_id, s.session_id, s.session_type, s.entry_ts, s.exit_ts, s.exit_reason,
s.interruptions, s.interrupted_seconds, s.user_name, s.org_id, s.node_id,
host(s.client_ip) AS ip, s.city, s.region, s.country_code, s.latitude, s.longitude, s.browser,
s.browser_version, s.os, s.os_version, s.device_type, s.user_agent
"""
_SELECT_SESSIONS = "SELECT " + _SESSION_COLUMNS + "FROM attendance_sessions AS s\n"
# A breakout's sessions ($1 its org, $2 its id) live in the partitions from the time its record
# begins (migration 0016): this condition lets a query read only those.
OF_BREAKOUT = (
    "s.org_id = $1 AND s.breakout_id = $2 AND s.entry_ts >= breakout_record_begins($1, $2)"
)
SELECT_BREAKOUT_SESSIONS = (
    _SELECT_SESSIONS
    + "WHERE "
    + OF_BREAKOUT
    + " ORDER BY entry_ts, user_id, session_id OFFSET $3 LIMIT $4"
)
SELECT_OPEN_SESSIONS_OF_NODE = _SELECT_SESSIONS + "WHERE node_id = $1 AND exit_ts IS NULL"

# A resume: the user's session ($1 org, $2 breakout, $3 user, $4 session, $5 type) that a lost
# connection ended (`disconnect`, `node_lost`, `shutdown`: desk.RESUMABLE) at most $7 seconds
# before $6 opens again on node $8, unless its breakout has ended (held FOR SHARE, as an open
# holds it); the interruption is kept. The row is locked first: of two resumes of one
# session, the second finds it open and resumes nothing.
_RESUME = """
WITH breakout AS (
    SELECT b.id FROM breakouts AS b
    WHERE b.org_id = $1 AND b.id = $2 AND b.ended_at IS NULL
    FOR SHARE OF b
),
target AS (
    SELECT t.user_id, t.breakout_id, t.session_id, t.entry_ts, t.exit_ts, t.node_id
    FROM attendance_sessions AS t
    WHERE t.org_id = $1 AND t.breakout_id = $2 AND t.user_id = $3 AND t.session_id = $4
      AND t.entry_ts >= breakout_record_begins($1, $2)
      AND t.session_type = $5 AND t.exit_reason IN ('disconnect', 'node_lost', 'shutdown')
      AND t.exit_ts <= $6 AND t.exit_ts >= $6 - make_interval(secs => $7)
      AND EXISTS (SELECT FROM breakout)
    FOR UPDATE OF t
),
noted AS (
    INSERT INTO session_interruptions (user_id, breakout_id, session_id, left_at, back_at,
                                       left_node, back_node)
    SELECT t.user_id, t.breakout_id, t.session_id, t.exit_ts, $6, t.node_id, $8 FROM target AS t
)
UPDATE attendance_sessions AS s
SET exit_ts = NULL, exit_reason = NULL, node_id = $8, interruptions = s.interruptions + 1,
    interrupted_seconds = s.interrupted_seconds + extract(epoch FROM $6 - t.exit_ts)
FROM target AS t
WHERE s.user_id = t.user_id AND s.breakout_id = t.breakout_id AND s.session_id = t.session_id
  AND s.entry_ts = (SELECT t.entry_ts FROM target AS t)  -- known before it runs: one partition
RETURNING """
RESUME_SESSION = _RESUME + _SESSION_COLUMNS  # noqa: S608 - two constants, no input
_SELECT_HOLDER = """
SELECT s.exit_ts IS NULL AS open, s.node_id FROM attendance_sessions AS s
WHERE s.user_id = $3 AND s.session_id = $4 AND """
SELECT_SESSION_HOLDER = _SELECT_HOLDER + OF_BREAKOUT  # noqa: S608 - two constants, no input

# A process that died with journaled writes is gone for good: once its journal is replayed, the
# sessions it still had open close at the last moment its journal shows it alive.
CLOSE_SESSIONS_OF_LOST_NODES = """
UPDATE attendance_sessions
SET exit_ts = greatest(entry_ts, $2), exit_reason = 'node_lost'
WHERE node_id = ANY($1::text[]) AND exit_ts IS NULL
"""

SessionKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class SessionExit:
    """The end of one session: when the user really left and why. With `node_id`, it closes
    the session only while that node holds it (another may have taken it over since). Its
    session's `entry_ts`, when known, takes it straight to the session's partition."""

    user_id: str
    breakout_id: str
    session_id: str
    at: datetime
    reason: ExitReason
    node_id: str | None = None
    entry_ts: datetime | None = None

    @property
    def key(self) -> SessionKey:
        return (self.user_id, self.breakout_id, self.session_id)


def session_key(session: AttendanceSession) -> SessionKey:
    return (session.user_id, session.breakout_id, session.session_id)


_client_values = attrgetter(*CLIENT_FIELDS)


def _open_row(session: AttendanceSession, exit_: SessionExit | None) -> tuple[object, ...]:
    """A session_open_row (migration 0004): the client's part in CLIENT_FIELDS order."""
    return (
        session.user_id,
        session.breakout_id,
        session.session_id,
        session.session_type.value,
        session.entry_ts,
        session.user_name,
        session.org_id,
        *_client_values(session.client),
        session.node_id,
        None if exit_ is None else exit_.at,
        None if exit_ is None else exit_.reason.value,
    )


@dataclass(frozen=True, slots=True)
class Written:
    """What a batch did beyond writing: the sessions its exits closed, and the opens it refused
    because their breakout had ended."""

    closed: set[SessionKey]
    refused: set[SessionKey]


async def write_sessions(
    connection: Connection, opens: Sequence[AttendanceSession], exits: Sequence[SessionExit]
) -> Written:
    """Record opens and exits (at most one exit a session) in one statement."""
    exit_of = {exit_.key: exit_ for exit_ in exits}
    opened = [_open_row(session, exit_of.pop(session_key(session), None)) for session in opens]
    placed: list[tuple[object, ...]] = []
    unplaced: list[tuple[object, ...]] = []
    for e in exit_of.values():
        row = (e.user_id, e.breakout_id, e.session_id, e.at, e.reason.value, e.node_id, e.entry_ts)
        (unplaced if e.entry_ts is None else placed).append(row)
    written = Written(closed=set(), refused=set())
    for row in await connection.fetch(WRITE_SESSIONS, opened, placed, unplaced):
        key = (row["user_id"], row["breakout_id"], row["session_id"])
        (written.closed if row["closed"] else written.refused).add(key)
    return written


def _session(row: asyncpg.Record) -> AttendanceSession:
    reason = row["exit_reason"]
    return record_of(
        AttendanceSession,
        row,
        session_type=SessionType(row["session_type"]),
        exit_reason=None if reason is None else ExitReason(reason),
        client=record_of(ClientInfo, row),
    )


@dataclass(frozen=True, slots=True)
class Resume:
    """A join's claim to go on with an earlier session of its user in that breakout."""

    org_id: str
    breakout_id: str
    user_id: str
    session_id: str
    session_type: SessionType
    at: datetime
    grace_s: float
    node_id: str


async def resume_session(connection: Connection, resume: Resume) -> AttendanceSession | None:
    """The session opened again (see RESUME_SESSION), or None when it may not be resumed."""
    row = await connection.fetchrow(
        RESUME_SESSION,
        resume.org_id,
        resume.breakout_id,
        resume.user_id,
        resume.session_id,
        resume.session_type.value,
        resume.at,
        resume.grace_s,
        resume.node_id,
    )
    return None if row is None else _session(row)


async def session_holder(connection: Connection, resume: Resume) -> tuple[bool, str | None] | None:
    """Whether the session is open, and the node that holds it; None when there is none such."""
    row = await connection.fetchrow(
        SELECT_SESSION_HOLDER, resume.org_id, resume.breakout_id, resume.user_id, resume.session_id
    )
    return None if row is None else (row["open"], row["node_id"])


async def close_sessions_of_lost_nodes(
    connection: Connection, node_ids: Sequence[str], last_alive: datetime
) -> int:
    """Close the open sessions of nodes that are gone (`node_lost`); return how many."""
    status = await connection.execute(CLOSE_SESSIONS_OF_LOST_NODES, list(node_ids), last_alive)
    return int(status.rsplit(" ", 1)[-1])


async def fetch_breakout_sessions(
    connection: Connection, org_id: str, breakout_id: str, skip: int = 0, limit: int | None = None
) -> list[AttendanceSession]:
    """The breakout's sessions in entry order, `limit` of them (None: all) after the first
    `skip`."""
    rows = await connection.fetch(SELECT_BREAKOUT_SESSIONS, org_id, breakout_id, skip, limit)
    return [_session(row) for row in rows]


async def fetch_open_sessions_of_node(
    connection: Connection, node_id: str
) -> list[AttendanceSession]:
    return [_session(row) for row in await connection.fetch(SELECT_OPEN_SESSIONS_OF_NODE, node_id)]
