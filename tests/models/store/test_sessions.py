"""The session table's repository: one field list serves the write row and the read row."""

from __future__ import annotations

import dataclasses

import asyncpg

from models.domain.records import CLIENT_FIELDS, ExitReason, now_ms
from models.store.sessions import SessionExit, fetch_breakout_sessions, write_sessions
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
