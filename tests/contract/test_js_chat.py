"""Contract: the breakout's chat and engagement with the official JavaScript socket.io-client,
across two real server processes sharing one PostgreSQL and one Redis."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from models.auth.tokens import TokenAuthority
from models.domain.records import Role
from tests.contract.scripts import run_script
from tests.support.records import new_breakout_id
from tests.support.servers import TEST_SECRET, cluster

HERE = Path(__file__).parent

pytestmark = pytest.mark.contract


def token(user: str, role: Role = Role.ATTENDEE) -> str:
    return TokenAuthority(secret=TEST_SECRET).mint(
        user_id=user, name=user.title(), org_id="org-a", role=role, ttl_s=600
    )


async def test_the_js_client_chats_across_two_nodes(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "RECONNECT_GRACE_S": "0"}
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path) as [(_, url_a), (_, url_b)]:
        users = [token("ada"), token("bob"), token("late"), token("host", Role.HOST)]
        result = await run_script("chat.mjs", url_a, url_b, breakout, *users, timeout_s=90)

    assert result["adaJoin"]["ack"]["ok"] and result["adaJoin"]["last"]["comments"] == []
    posted = result["post"]["comment"]
    assert result["post"]["ok"] is True and posted["text"] == "hello from node A"
    assert result["bobHeard"] == posted  # node A's comment reached node B's room
    assert result["lateJoin"]["last"] == {"breakoutId": breakout, "comments": [posted]}
    assert result["before"] == {"ok": True, "breakoutId": breakout, "comments": []}

    assert result["mute"]["ok"] is True
    assert result["muted"]["ok"] is False and result["muted"]["error"]["code"] == "forbidden"
    assert result["unmuted"]["ok"] is True

    assert result["delete"]["ok"] is True
    assert result["adaHeardDelete"] == {"breakoutId": breakout, "commentId": posted["id"]}

    codes = [ack["ok"] or ack["error"]["code"] for ack in result["flood"]]
    assert codes == [True] * 5 + ["rate_limited"]


async def test_the_js_client_s_activity_adds_up_to_its_session_across_two_nodes(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "RECONNECT_GRACE_S": "0"}
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path) as [(_, url_a), (_, url_b)]:
        users = [token("ada"), token("host", Role.HOST)]
        result = await run_script("engagement.mjs", url_a, url_b, breakout, *users, timeout_s=90)
    script = [state for state, _ in result["script"]]

    # The host on node B heard each change of Ada's on node A (coalesced per interval: the
    # last of each interval, so the last of all surely) and sees her current state.
    assert result["heard"] and result["heard"][-1] == "paused"
    assert all(state in script for state in result["heard"])
    assert result["snapshot"] == [{"userId": "ada", "activity": "paused"}]
    assert result["refused"]["error"]["code"] == "invalid_payload"

    session_id = result["join"]["sessionId"]
    entry = datetime.fromisoformat(result["join"]["entryTimestamp"])
    exit_ = datetime.fromisoformat(result["leave"]["exitTimestamp"])
    connection = await asyncpg.connect(postgres_url)
    try:
        states = await connection.fetchrow(
            "SELECT * FROM session_states WHERE session_id = $1", session_id
        )
        changes = await connection.fetchval(
            "SELECT count(*) FROM session_activity WHERE session_id = $1", session_id
        )
    finally:
        await connection.close()
    assert changes == len(script)
    length = (exit_ - entry).total_seconds()
    assert abs(states["length_seconds"] - length) < 0.002  # the states add up to the session
    parts = ("visible", "playing", "paused", "hidden", "idle", "unknown", "away")
    assert abs(sum(states[f"{part}_seconds"] for part in parts) - length) < 0.002
    expected: dict[str, float] = {}
    for state, ms in result["script"]:
        expected[state] = expected.get(state, 0) + ms / 1000
    for state, seconds in expected.items():
        # Each state's time as the client lived it, give or take the trip and timers.
        assert abs(states[f"{state}_seconds"] - seconds) < 0.25, (state, dict(states))
    assert states["unknown_seconds"] < 0.25 and states["away_seconds"] == 0
