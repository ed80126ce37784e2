"""Contract: the breakout's chat with the official JavaScript socket.io-client, across two real
server processes sharing one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from models.auth.tokens import TokenAuthority
from models.domain.records import Role
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
    node = shutil.which("node")
    assert node is not None and (HERE / "node_modules" / "socket.io-client").exists()
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "RECONNECT_GRACE_S": "0"}
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path) as [(_, url_a), (_, url_b)]:
        process = await asyncio.create_subprocess_exec(
            node,
            str(HERE / "chat.mjs"),
            url_a,
            url_b,
            breakout,
            token("ada"),
            token("bob"),
            token("late"),
            token("host", Role.HOST),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)

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
