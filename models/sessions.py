"""Attendance sessions in PostgreSQL: batched opens and exits, and reading a breakout's sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from models.database import Connection
from models.records import AttendanceSession, ClientInfo, ExitReason, SessionType

# One statement a batch: unnest turns column arrays into rows, in the order _open_row builds
# them. DO NOTHING makes a replayed open (a retry after a lost commit reply) harmless.
INSERT_SESSIONS = """
INSERT INTO attendance_sessions (
    user_id, breakout_id, session_id, session_type, entry_ts, user_name, org_id, client_ip,
    city, region, country_code, latitude, longitude, browser, browser_version, os, os_version,
    device_type, user_agent, node_id
)
SELECT * FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
    $8::inet[], $9::text[], $10::text[], $11::text[], $12::float8[], $13::float8[], $14::text[],
    $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[]
)
ON CONFLICT (user_id, breakout_id, session_id) DO NOTHING
"""

# exit_ts is written once: a session that already has one keeps it.
CLOSE_SESSIONS = """
UPDATE attendance_sessions AS s
SET exit_ts = greatest(u.exit_ts, s.entry_ts), exit_reason = u.exit_reason
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
     AS u (user_id, breakout_id, session_id, exit_ts, exit_reason)
WHERE s.user_id = u.user_id
  AND s.breakout_id = u.breakout_id
  AND s.session_id = u.session_id
  AND s.exit_ts IS NULL
RETURNING s.user_id, s.breakout_id, s.session_id
"""

SELECT_BREAKOUT_SESSIONS = """
SELECT user_id, breakout_id, session_id, session_type, entry_ts, exit_ts, exit_reason,
       user_name, org_id, host(client_ip) AS client_ip, city, region, country_code, latitude,
       longitude, browser, browser_version, os, os_version, device_type, user_agent, node_id
FROM attendance_sessions
WHERE breakout_id = $1
ORDER BY entry_ts, user_id, session_id
"""

SELECT_OPEN_SESSIONS_OF_NODE = """
SELECT user_id, breakout_id, session_id, session_type, entry_ts, exit_ts, exit_reason,
       user_name, org_id, host(client_ip) AS client_ip, city, region, country_code, latitude,
       longitude, browser, browser_version, os, os_version, device_type, user_agent, node_id
FROM attendance_sessions
WHERE node_id = $1 AND exit_ts IS NULL
"""

SessionKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class SessionExit:
    """The end of one session: when the user really left and why."""

    user_id: str
    breakout_id: str
    session_id: str
    at: datetime
    reason: ExitReason

    @property
    def key(self) -> SessionKey:
        return (self.user_id, self.breakout_id, self.session_id)


def session_key(session: AttendanceSession) -> SessionKey:
    return (session.user_id, session.breakout_id, session.session_id)


def _open_row(session: AttendanceSession) -> tuple[object, ...]:
    client = session.client
    return (
        session.user_id,
        session.breakout_id,
        session.session_id,
        session.session_type.value,
        session.entry_ts,
        session.user_name,
        session.org_id,
        client.ip,
        client.city,
        client.region,
        client.country_code,
        client.latitude,
        client.longitude,
        client.browser,
        client.browser_version,
        client.os,
        client.os_version,
        client.device_type,
        client.user_agent,
        session.node_id,
    )


async def insert_sessions(connection: Connection, sessions: Sequence[AttendanceSession]) -> None:
    columns = list(zip(*(_open_row(session) for session in sessions), strict=True))
    await connection.execute(INSERT_SESSIONS, *columns)


async def close_sessions(connection: Connection, exits: Sequence[SessionExit]) -> set[SessionKey]:
    """Record the exits; return the keys of the sessions this call closed."""
    rows = await connection.fetch(
        CLOSE_SESSIONS,
        [e.user_id for e in exits],
        [e.breakout_id for e in exits],
        [e.session_id for e in exits],
        [e.at for e in exits],
        [e.reason.value for e in exits],
    )
    return {(row["user_id"], row["breakout_id"], row["session_id"]) for row in rows}


def _session(row: asyncpg.Record) -> AttendanceSession:
    return AttendanceSession(
        user_id=row["user_id"],
        breakout_id=row["breakout_id"],
        session_id=row["session_id"],
        session_type=SessionType(row["session_type"]),
        entry_ts=row["entry_ts"],
        exit_ts=row["exit_ts"],
        exit_reason=None if row["exit_reason"] is None else ExitReason(row["exit_reason"]),
        user_name=row["user_name"],
        org_id=row["org_id"],
        node_id=row["node_id"],
        client=ClientInfo(
            ip=row["client_ip"],
            city=row["city"],
            region=row["region"],
            country_code=row["country_code"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            browser=row["browser"],
            browser_version=row["browser_version"],
            os=row["os"],
            os_version=row["os_version"],
            device_type=row["device_type"],
            user_agent=row["user_agent"],
        ),
    )


async def fetch_breakout_sessions(
    connection: Connection, breakout_id: str
) -> list[AttendanceSession]:
    return [_session(row) for row in await connection.fetch(SELECT_BREAKOUT_SESSIONS, breakout_id)]


async def fetch_open_sessions_of_node(
    connection: Connection, node_id: str
) -> list[AttendanceSession]:
    return [_session(row) for row in await connection.fetch(SELECT_OPEN_SESSIONS_OF_NODE, node_id)]
