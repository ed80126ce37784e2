"""Two real server processes sharing one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio

from models.auth.tokens import TokenAuthority
from models.domain.records import Role
from tests.support.records import new_breakout_id
from tests.support.servers import TEST_SECRET, cluster, serving, stop


@pytest.fixture
def shared(postgres_url: str, redis_url: str) -> dict[str, str]:
    """What every node of a test cluster shares: one PostgreSQL, one Redis. A lost viewer
    leaves at once here (no window to resume), unless a test gives it one."""
    return {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "RECONNECT_GRACE_S": "0"}


def token(user: str, role: Role = Role.ATTENDEE) -> str:
    return TokenAuthority(secret=TEST_SECRET).mint(
        user_id=user, name=user.title(), org_id="org-a", role=role, ttl_s=600
    )


async def client_of(url: str, user: str, role: Role = Role.ATTENDEE) -> tuple[Any, Any]:
    client = socketio.AsyncClient(reconnection=False)
    counts: asyncio.Queue[Any] = asyncio.Queue()
    client.on("viewer-count", counts.put_nowait)
    client.on("presence-diff", lambda diff: counts.put_nowait({"diff": diff}))
    await client.connect(
        url, auth={"token": token(user, role)}, transports=["websocket"], wait_timeout=10
    )
    return client, counts


async def session_rows(url: str, *session_ids: str) -> dict[str, asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT * FROM attendance_sessions WHERE session_id = ANY($1)", list(session_ids)
        )
    finally:
        await connection.close()
    return {row["session_id"]: row for row in rows}


async def until(events: asyncio.Queue[Any], wanted: Any) -> Any:
    """Drain events (counts, and diffs as {"diff": ...}) until one satisfies `wanted`."""
    while not wanted(event := await asyncio.wait_for(events.get(), 10)):
        pass
    return event


def count_is(breakout: str, count: int) -> Any:
    return lambda event: event == {"breakoutId": breakout, "count": count}


def without_times(leaves: list[Any]) -> list[Any]:
    """Leaves without their exitTimestamp (each test checks the time against the record)."""
    return [{k: v for k, v in leave.items() if k != "exitTimestamp"} for leave in leaves]


def a_diff(event: Any) -> bool:
    return "diff" in event and bool(event["diff"]["joins"] or event["diff"]["leaves"])


async def test_a_host_on_node_b_sees_a_viewer_joining_on_node_a(
    postgres_url: str, shared: dict[str, str], tmp_path: Path
) -> None:
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path) as [(_, url_a), (_, url_b)]:
        viewer, _ = await client_of(url_a, "viewer")
        host, host_counts = await client_of(url_b, "host", Role.HOST)
        try:
            joined = await viewer.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            snapshot = await host.call("watch-breakout", {"breakoutId": breakout}, timeout=10)
            assert snapshot["ok"] is True and snapshot["count"] == 1
            assert [v["sessionId"] for v in snapshot["viewers"]] == [joined["sessionId"]]
            assert snapshot["viewers"][0]["name"] == "Viewer"

            second, _ = await client_of(url_a, "second")
            other = await second.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            await until(host_counts, count_is(breakout, 2))
            diff = await until(
                host_counts,
                lambda e: a_diff(e) and other["sessionId"] in str(e["diff"]["joins"]),
            )
            # The first viewer's join may ride along (it was pending when the host started to
            # watch); a host applies joins by sessionId, so a repeat is harmless.
            assert other["sessionId"] in [j["sessionId"] for j in diff["diff"]["joins"]]
            await viewer.call("leave-chat-room", {"breakoutId": breakout}, timeout=10)
            await until(host_counts, count_is(breakout, 1))
            diff = await until(host_counts, lambda e: a_diff(e) and e["diff"]["leaves"])
            assert without_times(diff["diff"]["leaves"]) == [
                {"userId": "viewer", "sessionId": joined["sessionId"], "reason": "leave"}
            ]
            await second.disconnect()
            await until(host_counts, count_is(breakout, 0))
        finally:
            await viewer.disconnect()
            await host.disconnect()


async def test_the_device_limit_expels_a_socket_on_the_other_node(
    postgres_url: str, shared: dict[str, str], tmp_path: Path
) -> None:
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path) as [(_, url_a), (_, url_b)]:
        old_tab, _ = await client_of(url_a, "same-user")
        playback: asyncio.Queue[Any] = asyncio.Queue()
        old_tab.on("playback", playback.put_nowait)
        new_tab, _ = await client_of(url_b, "same-user")
        try:
            old = await old_tab.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            new = await new_tab.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            assert new["ok"] is True
            assert await asyncio.wait_for(playback.get(), 10) == "device-limit-exceeded"
            left = await old_tab.call("leave-chat-room", {"breakoutId": breakout}, timeout=10)
            assert left["error"]["code"] == "not_joined"
        finally:
            await old_tab.disconnect()
            await new_tab.disconnect()
    rows = await session_rows(postgres_url, old["sessionId"], new["sessionId"])
    assert rows[old["sessionId"]]["exit_reason"] == "device_limit"
    assert rows[new["sessionId"]]["exit_reason"] in {"disconnect", "shutdown"}


async def test_ending_a_breakout_closes_sessions_on_both_nodes(
    postgres_url: str, shared: dict[str, str], tmp_path: Path
) -> None:
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path) as [(_, url_a), (_, url_b)]:
        on_a, _ = await client_of(url_a, "viewer-a")
        on_b, _ = await client_of(url_b, "viewer-b")
        notices: asyncio.Queue[Any] = asyncio.Queue()
        for client in (on_a, on_b):
            client.on("breakout-ended", notices.put_nowait)
        try:
            sessions = [
                (await c.call("join-chat-room", {"breakoutId": breakout}, timeout=10))["sessionId"]
                for c in (on_a, on_b)
            ]
            headers = {"Authorization": f"Bearer {token('host', Role.HOST)}"}
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"{url_b}/api/breakouts/{breakout}/end", headers=headers) as response,
            ):
                assert response.status == 200
                ended = (await response.json())["data"]
            assert [await asyncio.wait_for(notices.get(), 10) for _ in range(2)] == [ended] * 2
            again = await on_a.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            assert again["error"]["code"] == "not_found"
        finally:
            await on_a.disconnect()
            await on_b.disconnect()
    rows = (await session_rows(postgres_url, *sessions)).values()
    assert [row["exit_reason"] for row in rows] == ["breakout_ended"] * 2
    assert {row["exit_ts"] for row in rows} == {datetime.fromisoformat(ended["endedAt"])}


async def test_kill_9_of_a_node_closes_its_sessions_at_its_last_heartbeat(
    postgres_url: str, shared: dict[str, str], tmp_path: Path
) -> None:
    interval_s = 0.5
    shared = {
        **shared,
        "HEARTBEAT_INTERVAL_S": str(interval_s),
        "HEARTBEAT_TTL_S": str(2 * interval_s),
    }
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path, size=3) as [(node_a, url_a), (_, url_b), (_, url_c)]:
        doomed, _ = await client_of(url_a, "doomed")
        survivor, _ = await client_of(url_c, "survivor")
        host, events = await client_of(url_b, "host", Role.HOST)
        try:
            lost = await doomed.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            kept = await survivor.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            await host.call("watch-breakout", {"breakoutId": breakout}, timeout=10)
            await until(events, count_is(breakout, 2))

            node_a.kill()  # no cleanup of any kind
            killed_at = datetime.now(UTC)
            await node_a.wait()
            await until(events, count_is(breakout, 1))
            noticed_s = (datetime.now(UTC) - killed_at).total_seconds()
            leaves: list[Any] = []
            while not leaves:
                leaves = (await until(events, a_diff))["diff"]["leaves"]
        finally:
            await doomed.disconnect()
            await survivor.disconnect()
            await host.disconnect()
        # One survivor reaped (a lock): the host heard of the loss exactly once.
        await asyncio.sleep(3 * interval_s)
        while not events.empty():
            event = events.get_nowait()
            assert not (a_diff(event) and event["diff"]["leaves"]), event
        # A node restarted in A's place is a new node: it reopens nothing of A's.
        async with serving(shared, tmp_path / "a") as (restarted, _):
            await asyncio.sleep(3 * interval_s)
            await stop(restarted)
    assert without_times(leaves) == [
        {"userId": "doomed", "sessionId": lost["sessionId"], "reason": "node_lost"}
    ]
    assert noticed_s < 3 * (2 * interval_s) + 2  # within a few intervals
    rows = await session_rows(postgres_url, lost["sessionId"], kept["sessionId"])
    row, kept_row = rows[lost["sessionId"]], rows[kept["sessionId"]]
    assert row["exit_reason"] == "node_lost"
    # Stamped at A's last heartbeat: before the kill, and not long before it.
    assert killed_at - timedelta(seconds=interval_s + 0.5) <= row["exit_ts"] <= killed_at
    assert kept_row["exit_reason"] in {"disconnect", "shutdown"}


async def test_sigterm_of_a_node_closes_its_sessions_as_shutdown_and_tells_hosts(
    postgres_url: str, shared: dict[str, str], tmp_path: Path
) -> None:
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path) as [(node_a, url_a), (_, url_b)]:
        viewer, _ = await client_of(url_a, "viewer")
        host, events = await client_of(url_b, "host", Role.HOST)
        try:
            joined = await viewer.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            await host.call("watch-breakout", {"breakoutId": breakout}, timeout=10)

            output = await stop(node_a)
            # One flush: the count first, then the diff.
            await until(events, count_is(breakout, 0))
            diff = await until(events, lambda e: a_diff(e) and e["diff"]["leaves"])
        finally:
            await viewer.disconnect()
            await host.disconnect()
    assert node_a.returncode == 0, output
    assert without_times(diff["diff"]["leaves"]) == [
        {"userId": "viewer", "sessionId": joined["sessionId"], "reason": "shutdown"}
    ]


async def test_after_a_kill_9_its_clients_resume_on_another_node(
    postgres_url: str, shared: dict[str, str], tmp_path: Path
) -> None:
    """A's viewers come back on B within seconds, long before A is declared dead: B takes each
    session over from the silent node (as its reaper would end it, at A's last beat) and the
    stay goes on as one session; the reaper later finds nothing of it to close."""
    interval_s = 0.5
    shared = {
        **shared,
        "HEARTBEAT_INTERVAL_S": str(interval_s),
        "HEARTBEAT_TTL_S": "5",
        "RECONNECT_GRACE_S": "30",
    }
    breakout = new_breakout_id()
    async with cluster(shared, tmp_path) as [(node_a, url_a), (_, url_b)]:
        doomed, _ = await client_of(url_a, "doomed")
        joined = await doomed.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
        node_a.kill()
        killed_at = datetime.now(UTC)
        await node_a.wait()
        await doomed.disconnect()

        back, _ = await client_of(url_b, "doomed")
        try:
            resumed = await back.call(
                "join-chat-room",
                {"breakoutId": breakout, "resumeSessionId": joined["sessionId"]},
                timeout=10,
            )
            await asyncio.sleep(6)  # A is declared dead and reaped meanwhile
            row = (await session_rows(postgres_url, joined["sessionId"]))[joined["sessionId"]]
        finally:
            await back.disconnect()
    assert resumed["resumed"] is True and resumed["sessionId"] == joined["sessionId"]
    assert row["exit_ts"] is None  # read while the viewer is in, on B
    assert row["interruptions"] == 1
    connection = await asyncpg.connect(postgres_url)
    try:
        gap = await connection.fetchrow(
            "SELECT left_at, back_at FROM session_interruptions WHERE session_id = $1",
            joined["sessionId"],
        )
    finally:
        await connection.close()
    assert killed_at - timedelta(seconds=interval_s + 0.5) <= gap["left_at"] <= killed_at
