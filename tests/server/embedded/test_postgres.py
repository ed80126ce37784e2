from __future__ import annotations

import asyncpg

from tests.support.servers import private_postgres


async def test_restart_keeps_data_and_a_second_start_finds_it_running() -> None:
    with private_postgres("attendance-embedded-") as embedded:
        first = embedded.start()
        assert embedded.start() == first  # already up: found, not started twice
        connection = await asyncpg.connect(first.url)
        await connection.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
        await connection.close()

        embedded.stop()
        assert embedded.running() is None
        second = embedded.start()

        connection = await asyncpg.connect(second.url)
        assert await connection.fetchval("SELECT x FROM kept") == 7
        # fsync stays on: acked writes must survive a crash of the machine.
        assert await connection.fetchval("SHOW fsync") == "on"
        await connection.close()
