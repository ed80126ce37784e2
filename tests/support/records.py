"""Records the tests make and count: sessions, breakouts."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import asyncpg

from models.domain.records import AttendanceSession, ClientInfo, SessionType, now_ms


def sample_session(breakout_id: str, number: int, **changes: Any) -> AttendanceSession:
    """Session s<number> of user u<number>, live, opened now from London; `changes` replace
    fields."""
    session = AttendanceSession(
        user_id=f"u{number}",
        breakout_id=breakout_id,
        session_id=f"s{number}",
        session_type=SessionType.LIVE,
        entry_ts=now_ms(),
        user_name=f"User {number}",
        org_id="org-a",
        client=ClientInfo(city="London", ip="81.2.69.0"),
    )
    return dataclasses.replace(session, **changes) if changes else session


def new_breakout_id() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


async def create_breakout(pool: asyncpg.Pool, org_id: str = "org-a") -> str:
    """A new breakout of `org_id`, stored; its id."""
    breakout_id = new_breakout_id()
    async with pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO breakouts (id, org_id) VALUES ($1, $2)", breakout_id, org_id
        )
    return breakout_id


async def sessions_in(pool: asyncpg.Pool, breakout_id: str) -> int:
    """How many sessions of the breakout are stored, open or closed."""
    async with pool.acquire() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM attendance_sessions WHERE breakout_id = $1", breakout_id
        )
    return count
