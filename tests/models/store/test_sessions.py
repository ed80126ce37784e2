"""The session table's repository: one field list serves the write row and the read row."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import asyncpg

from models.domain.records import CLIENT_FIELDS, ExitReason, now_ms
from models.store.breakouts import BreakoutDirectory
from models.store.sessions import (
    SessionExit,
    fetch_breakout_sessions,
    session_key,
    write_sessions,
)
from tests.support.records import create_breakout, sample_session


async def test_the_write_row_type_has_the_client_columns_in_client_fields_order(
    db: asyncpg.Pool,
) -> None:
    async with db.acquire() as connection:
        columns = await connection.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'session_open_row'::regclass"
            " AND attnum > 0 ORDER BY attnum"
        )
    names = [row["attname"] for row in columns]
    client = names[names.index("client_ip") : names.index("client_ip") + len(CLIENT_FIELDS)]
    assert client == ["client_ip", *CLIENT_FIELDS[1:]]


async def test_a_written_session_reads_back_whole(db: asyncpg.Pool) -> None:
    breakout = await create_breakout(db)
    written = sample_session(breakout, 1)
    written = dataclasses.replace(
        written,
        client=dataclasses.replace(
            written.client,
            region="England",
            country_code="GB",
            latitude=51.5,
            longitude=-0.1,
            browser="Chrome",
            browser_version="120.0",
            os="Mac OS X",
            os_version="10.15",
            device_type="desktop",
            user_agent="Mozilla/5.0",
        ),
        node_id="host:1:abc",
    )
    left = SessionExit(written.user_id, breakout, written.session_id, now_ms(), ExitReason.LEAVE)
    async with db.acquire() as connection:
        await write_sessions(connection, [written], [left])
        [read] = await fetch_breakout_sessions(connection, "org-a", breakout)

    assert read == written.closed(left.at, ExitReason.LEAVE)


async def test_an_open_after_its_breakout_ended_is_refused_where_it_is_written(
    db: asyncpg.Pool,
) -> None:
    """A node that still holds "running" in its cache must not open a session after the end."""
    breakout = await create_breakout(db)
    before_end = sample_session(breakout, 1)
    ended = await BreakoutDirectory(db, auto_create=False, cache_s=0).end(
        "org-a", breakout, before_end.entry_ts + timedelta(seconds=1)
    )
    after_end = sample_session(breakout, 2, entry_ts=before_end.entry_ts + timedelta(seconds=2))
    async with db.acquire() as connection:
        written = await write_sessions(connection, [before_end, after_end], [])
        stored = await fetch_breakout_sessions(connection, "org-a", breakout)
    assert written.refused == {session_key(after_end)}
    assert [s.session_id for s in stored] == ["s1"]  # a journaled open from before still lands
    assert ended.ended_at == before_end.entry_ts + timedelta(seconds=1)


async def test_an_end_racing_an_open_waits_and_ends_no_earlier_than_it(db: asyncpg.Pool) -> None:
    """The open's batch holds the breakout FOR SHARE: the end waits for its commit, then ends
    the breakout no earlier than the session it let in (which its close then ends at once)."""
    breakout = await create_breakout(db)
    directory = BreakoutDirectory(db, auto_create=False, cache_s=0)
    late = sample_session(breakout, 1, entry_ts=now_ms() + timedelta(seconds=5))
    async with db.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        await write_sessions(connection, [late], [])
        ending = asyncio.create_task(directory.end("org-a", breakout, now_ms()))
        await asyncio.sleep(0.3)
        assert not ending.done()  # waits for the open's batch
        await transaction.commit()
    ended = await asyncio.wait_for(ending, 5)
    assert ended.ended_at == late.entry_ts
