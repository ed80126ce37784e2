"""Reports from a real streaming replica (pg_basebackup + standby on loopback): read there when it
is current, on the primary when it lags or is away, and never missing a write made before."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from models.domain.records import Role
from server.embedded.postgres import EmbeddedPostgres
from tests.conftest import ServerFactory
from tests.server.test_metrics import scrape
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer, open_directory


@pytest.fixture
def replicated() -> Iterator[tuple[EmbeddedPostgres, EmbeddedPostgres]]:
    """A primary and its streaming replica, each of the test's own."""
    with open_directory("attendance-replica-") as root:
        primary = EmbeddedPostgres(root / "primary")
        standby = EmbeddedPostgres(root / "standby")
        try:
            standby.start(standby_of=primary.start())
            yield primary, standby
        finally:
            standby.stop()
            primary.stop()


async def sessions_reported(
    http: aiohttp.ClientSession, server: RunningServer, breakout: str
) -> int:
    token = server.token("analyst", role=Role.ANALYST)
    async with http.get(
        f"{server.url}/api/breakouts/{breakout}/breakdowns",
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    return sum(share["sessions"] for share in body["data"]["deviceType"])


async def served(server: RunningServer, served_by: str, reason: str) -> float:
    key = ("attendance_report_reads_total", (("reason", reason), ("served_by", served_by)))
    return (await scrape(server)).get(key, 0.0)


async def test_reports_follow_the_replica_only_while_it_is_current(
    replicated: tuple[EmbeddedPostgres, EmbeddedPostgres],
    make_server: ServerFactory,
    connect: Any,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary, standby = replicated
    primary_url, standby_url = primary.start().url, standby.start().url
    server = await make_server(database_url=primary_url, reports_database_url=standby_url)
    breakout = new_breakout_id()
    viewers = [await connect(server, server.token(f"u{n}")) for n in range(3)]

    # Current: each report is read on the replica, and sees the join acked just before it.
    await viewers[0].call("join-chat-room", {"breakoutId": breakout})
    assert await sessions_reported(http, server, breakout) == 1
    assert await served(server, "replica", "current") >= 1

    # Lagging (replay paused): the report waits, then reads the primary; still exact.
    replica = await asyncpg.connect(standby_url)
    try:
        await replica.execute("SELECT pg_wal_replay_pause()")
        await viewers[1].call("join-chat-room", {"breakoutId": breakout})
        with caplog.at_level(logging.INFO, logger="models.store.replica"):
            assert await sessions_reported(http, server, breakout) == 2
            assert await served(server, "primary", "lag") >= 1
            await replica.execute("SELECT pg_wal_replay_resume()")
            assert await sessions_reported(http, server, breakout) == 2
    finally:
        await replica.close()
    assert "read on the primary, the replica is lag" in caplog.text
    assert "the replica serves again (was lag)" in caplog.text

    # Away (stopped): the primary answers at once.
    standby.stop()
    await viewers[2].call("join-chat-room", {"breakoutId": breakout})
    assert await sessions_reported(http, server, breakout) == 3
    assert await served(server, "primary", "away") >= 1
