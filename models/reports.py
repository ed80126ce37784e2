"""What analysts read: the sessions of a breakout, after the role and tenant checks."""

from __future__ import annotations

import asyncpg

from models.access import require_can_read_sessions
from models.breakouts import BreakoutDirectory
from models.records import AttendanceSession, Identity
from models.sessions import fetch_breakout_sessions


async def breakout_sessions(
    pool: asyncpg.Pool, breakouts: BreakoutDirectory, identity: Identity, breakout_id: str
) -> list[AttendanceSession]:
    """Every session of the breakout in entry order, for an analyst, host or admin of its org."""
    breakout = await breakouts.get(breakout_id)
    require_can_read_sessions(identity, breakout)
    async with pool.acquire() as connection:
        return await fetch_breakout_sessions(connection, breakout.id)
