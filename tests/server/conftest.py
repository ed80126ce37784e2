"""What several server test modules share: a breakout held yesterday, with known sessions."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from models.domain.records import Role
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer

INSERT_SESSION = """
INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,
                                 exit_reason, user_name, org_id, session_type)
VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE 'leave' END, $6, $7,
        $8)
"""


@pytest.fixture
async def school_server(make_server: Any) -> RunningServer:
    """A server that takes check-ins entered up to 60 days back (a school's history)."""
    return await make_server(checkin_max_past_days=60)  # type: ignore[no-any-return]


HeldBreakout = Callable[[RunningServer], Awaitable[tuple[str, str]]]


@pytest.fixture
async def held_breakout(held_breakout_in: HeldBreakout, server: RunningServer) -> tuple[str, str]:
    """`held_breakout_in` the test's server."""
    return await held_breakout_in(server)


@pytest.fixture
def held_breakout_in(http: aiohttp.ClientSession) -> HeldBreakout:
    """Makes, in a server's database, a new org with a breakout held yesterday: (org, id)."""
    return lambda server: _hold_breakout(http, server)


async def _hold_breakout(http: aiohttp.ClientSession, server: RunningServer) -> tuple[str, str]:
    """A one-hour breakout yesterday (present from 50%) and its sessions:
    u1 on two devices 0-20 and 10-40 min (40 min once the overlap counts once), u2 10 min live
    and 20 min of the recording later, u3 still in it with no attended session, and u4 who only
    watched the recording."""
    org, breakout = f"org-{secrets.token_hex(4)}", new_breakout_id()
    start = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(
        days=1
    )
    host = {"Authorization": f"Bearer {server.token('h', role=Role.HOST, org=org)}"}
    spec = {
        "name": "Algebra",
        "startsAt": start.isoformat(),
        "endsAt": (start + timedelta(hours=1)).isoformat(),
        "presentMinPercent": 50,
    }
    async with http.put(f"{server.url}/api/breakouts/{breakout}", json=spec, headers=host) as r:
        assert r.status == 200, await r.text()
    minute = timedelta(minutes=1)
    rows = [
        ("u1", "s1", start, start + 20 * minute, "Ada"),
        ("u1", "s2", start + 10 * minute, start + 40 * minute, "Ada"),
        ("u2", "s3", start + 5 * minute, start + 15 * minute, "Bob"),
        ("u3", "s4", start + 50 * minute, None, "Cy"),
        ("u2", "s5", start + 120 * minute, start + 140 * minute, "Bob", "on_demand"),
        ("u4", "s6", start + 100 * minute, start + 130 * minute, "Dee", "on_demand"),
    ]
    async with server.pool.acquire() as connection:
        for user, session, entry, exit_ts, name, *kind in rows:
            await connection.execute(
                INSERT_SESSION,
                user,
                breakout,
                session,
                entry,
                exit_ts,
                name,
                org,
                *kind or ["live"],
            )
    return org, breakout
