"""The group-commit writer against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest

from models.domain.errors import Unavailable
from models.domain.records import ActivityState, AttendanceSession, ExitReason, now_ms
from models.store.activity import Activity
from models.store.comments import Comment, new_comment_id, write_comments
from models.store.sessions import SessionExit, write_sessions
from models.writes.journal import Journal
from models.writes.writer import SessionWriter
from tests.support.records import create_breakout, sessions_in
from tests.support.records import sample_session as session
from tests.support.servers import free_port

WriterFactory = Callable[..., SessionWriter]


@pytest.fixture
async def breakout(db: asyncpg.Pool) -> str:
    return await create_breakout(db)


@pytest.fixture
async def make_writer(db: asyncpg.Pool) -> AsyncIterator[WriterFactory]:
    writers: list[SessionWriter] = []

    def make(
        pool: asyncpg.Pool = db, journal: Journal | None = None, **options: float
    ) -> SessionWriter:
        settings = {"batch_max_rows": 100, "batch_max_wait_s": 0.002, "queue_max": 1000}
        settings.update(options)
        writer = SessionWriter(
            pool,
            batch_max_rows=int(settings["batch_max_rows"]),
            batch_max_wait_s=settings["batch_max_wait_s"],
            queue_max=int(settings["queue_max"]),
            journal=journal,
            retry_s=0.05,
        )
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        await writer.close(timeout_s=5)


def exit_of(opened: AttendanceSession, reason: ExitReason = ExitReason.LEAVE) -> SessionExit:
    return SessionExit(opened.user_id, opened.breakout_id, opened.session_id, now_ms(), reason)


async def test_open_returns_only_after_the_row_is_committed(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str
) -> None:
    writer = make_writer()
    writer.start()
    opened = session(breakout, 1)

    await writer.open_session(opened)

    async with db.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT city, host(client_ip) AS ip FROM attendance_sessions WHERE session_id = 's1' "
            "AND breakout_id = $1",
            breakout,
        )
    assert row is not None and (row["city"], row["ip"]) == ("London", "81.2.69.0")


async def test_concurrent_writes_share_transactions(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str
) -> None:
    writer = make_writer(batch_max_rows=50)
    writer.start()
    opened = [session(breakout, n) for n in range(200)]

    await asyncio.gather(*(writer.open_session(s) for s in opened))
    closed = await asyncio.gather(*(writer.record_exit(exit_of(s)) for s in opened))

    assert all(closed)
    assert writer.committed_writes == 400
    assert writer.committed_batches <= 400 // 10  # far fewer transactions than writes
    async with db.acquire() as connection:
        attended = await connection.fetchval(
            "SELECT count(*) FROM attended WHERE breakout_id = $1", breakout
        )
    assert attended == 200


async def test_a_caller_that_goes_away_leaves_its_write_and_its_batch_whole(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str
) -> None:
    writer = make_writer()
    writer.start()
    opened = [session(breakout, n) for n in range(3)]
    calls = [asyncio.create_task(writer.open_session(s)) for s in opened]
    await asyncio.sleep(0)  # all three are queued
    calls[1].cancel()

    await asyncio.gather(calls[0], calls[2])

    with pytest.raises(asyncio.CancelledError):
        await calls[1]
    assert await sessions_in(db, breakout) == 3


async def test_exit_is_written_once(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str
) -> None:
    writer = make_writer()
    writer.start()
    opened = session(breakout, 1)
    await writer.open_session(opened)
    first = exit_of(opened, ExitReason.LEAVE)
    later = SessionExit(
        opened.user_id,
        breakout,
        opened.session_id,
        first.at + timedelta(seconds=5),
        ExitReason.DISCONNECT,
    )

    assert await writer.record_exit(first) is True
    assert await writer.record_exit(later) is False

    async with db.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT exit_ts, exit_reason FROM attendance_sessions WHERE breakout_id = $1",
            breakout,
        )
    assert (row["exit_ts"], row["exit_reason"]) == (first.at, "leave")


async def test_two_exits_of_one_session_in_one_batch_close_it_once(
    make_writer: WriterFactory, breakout: str
) -> None:
    writer = make_writer(batch_max_wait_s=0.05)
    writer.start()
    opened = session(breakout, 1)
    await writer.open_session(opened)

    results = await asyncio.gather(
        writer.record_exit(exit_of(opened, ExitReason.LEAVE)),
        writer.record_exit(exit_of(opened, ExitReason.DISCONNECT)),
    )

    assert sorted(results) == [False, True]


async def test_full_queue_refuses_instead_of_growing(
    make_writer: WriterFactory, breakout: str
) -> None:
    writer = make_writer(queue_max=2)  # not started: nothing drains yet
    pending = [asyncio.create_task(writer.open_session(session(breakout, n))) for n in (1, 2)]
    await asyncio.sleep(0)

    with pytest.raises(Unavailable):
        await writer.open_session(session(breakout, 3))

    writer.start()
    await asyncio.gather(*pending)
    assert writer.committed_writes == 2


async def test_a_refused_row_does_not_sink_its_batch(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str
) -> None:
    writer = make_writer(batch_max_wait_s=0.05)
    writer.start()
    orphan = session("no-such-breakout", 1)  # violates the breakouts foreign key

    results = await asyncio.gather(
        writer.open_session(orphan),
        writer.open_session(session(breakout, 2)),
        return_exceptions=True,
    )

    assert isinstance(results[0], Unavailable) and results[1] is None
    assert await sessions_in(db, breakout) == 1


async def test_unreachable_database_gives_unavailable(
    make_writer: WriterFactory, breakout: str
) -> None:
    nowhere = await asyncpg.create_pool(
        f"postgresql://postgres@127.0.0.1:{free_port()}/attendance", min_size=0, max_size=1
    )
    writer = make_writer(pool=nowhere)
    writer.start()
    try:
        with pytest.raises(Unavailable):
            await writer.open_session(session(breakout, 1))
    finally:
        await writer.close(timeout_s=5)
        await nowhere.close()


async def test_close_commits_what_is_queued_then_refuses(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str
) -> None:
    writer = make_writer(batch_max_wait_s=0.5)
    writer.start()
    pending = [asyncio.create_task(writer.open_session(session(breakout, n))) for n in range(5)]
    await asyncio.sleep(0)

    await writer.close()

    await asyncio.gather(*pending)
    with pytest.raises(Unavailable):
        await writer.open_session(session(breakout, 9))
    assert await sessions_in(db, breakout) == 5


class FlakyPool:
    """A real pool that can be switched off: its connections then fail as a stopped server's."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.down = False

    async def acquire(self) -> FlakyConnection:
        if self.down:
            raise ConnectionRefusedError("the database is stopped (test)")
        return FlakyConnection(self, await self.pool.acquire())

    async def release(self, connection: FlakyConnection, **options: Any) -> None:
        await self.pool.release(connection.inner, **options)


class FlakyConnection:
    def __init__(self, flaky: FlakyPool, inner: Any) -> None:
        self.flaky = flaky
        self.inner = inner

    async def fetch(self, *args: Any) -> Any:
        if self.flaky.down:
            raise ConnectionResetError("the database went away (test)")
        return await self.inner.fetch(*args)

    async def execute(self, *args: Any) -> Any:
        if self.flaky.down:
            raise ConnectionResetError("the database went away (test)")
        return await self.inner.execute(*args)

    def transaction(self) -> Any:
        return self.inner.transaction()


async def caught_up(writer: SessionWriter) -> None:
    for _ in range(200):
        if not writer.degraded:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"journal still holds {writer.journal_backlog} writes")


async def stored(db: asyncpg.Pool, breakout: str) -> list[asyncpg.Record]:
    async with db.acquire() as connection:
        return await connection.fetch(
            "SELECT session_id, exit_ts, exit_reason FROM attendance_sessions"
            " WHERE breakout_id = $1 ORDER BY session_id",
            breakout,
        )


async def test_writes_are_journaled_while_the_database_is_away_then_replayed_in_order(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str, journal: Journal
) -> None:
    flaky = FlakyPool(db)
    writer = make_writer(pool=cast(asyncpg.Pool, flaky), journal=journal)
    writer.start()
    first = session(breakout, 1)
    await writer.open_session(first)
    flaky.down = True

    during = [session(breakout, n) for n in range(2, 8)]
    await asyncio.gather(*(writer.open_session(opened) for opened in during))
    assert await writer.record_exit(exit_of(first)) is True
    assert await writer.record_exit(exit_of(during[0])) is True
    assert writer.degraded and journal.backlog == 8
    assert [row["session_id"] for row in await stored(db, breakout)] == ["s1"]

    flaky.down = False
    # Behind the journal: this exit must not reach the database before s3's open does.
    await writer.record_exit(exit_of(during[1]))
    await caught_up(writer)

    rows = {row["session_id"]: row for row in await stored(db, breakout)}
    assert sorted(rows) == [f"s{n}" for n in range(1, 8)]
    assert {sid for sid, row in rows.items() if row["exit_reason"] == "leave"} == {"s1", "s2", "s3"}
    assert list(journal.directory.glob("*.journal")) == []
    await writer.open_session(session(breakout, 9))
    assert writer.journaled_writes == 9 and not writer.degraded


async def test_comments_share_the_batches_and_the_journal_of_the_sessions(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str, journal: Journal
) -> None:
    flaky = FlakyPool(db)
    writer = make_writer(pool=cast(asyncpg.Pool, flaky), journal=journal)
    writer.start()

    def comment(number: int) -> Comment:
        at = now_ms()
        return Comment("org-a", breakout, new_comment_id(at), "u1", "Ada", f"c{number}", None, at)

    first = session(breakout, 1)
    await asyncio.gather(writer.open_session(first), writer.post_comment(comment(1)))
    flaky.down = True
    await asyncio.gather(*(writer.post_comment(comment(n)) for n in range(2, 6)))
    assert writer.degraded and journal.backlog == 4
    flaky.down = False
    await caught_up(writer)
    async with db.acquire() as connection:
        texts = await connection.fetch(
            "SELECT text FROM comments WHERE breakout_id = $1 ORDER BY id", breakout
        )
    assert [row["text"] for row in texts] == [f"c{n}" for n in range(1, 6)]
    # Replaying them again (a crash after the commit, before the journal knew) adds nothing.
    async with db.acquire() as connection:
        await write_comments(connection, [comment(9)])
        count = await connection.fetchval(
            "SELECT count(*) FROM comments WHERE breakout_id = $1", breakout
        )
    assert count == 6


async def test_activity_shares_the_batches_and_the_journal_of_the_sessions(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str, journal: Journal
) -> None:
    flaky = FlakyPool(db)
    writer = make_writer(pool=cast(asyncpg.Pool, flaky), journal=journal)
    writer.start()
    first = session(breakout, 1)
    states = [ActivityState.VISIBLE, ActivityState.PLAYING, ActivityState.HIDDEN]

    def change(number: int) -> Activity:
        at = first.entry_ts + timedelta(seconds=number)
        return Activity("org-a", breakout, "u1", "s1", at, states[number % 3])

    # The open and its first change in one batch: the change is written after the open.
    await asyncio.gather(writer.open_session(first), writer.record_activity(change(1)))
    flaky.down = True
    await asyncio.gather(*(writer.record_activity(change(n)) for n in range(2, 5)))
    assert writer.degraded and journal.backlog == 3
    flaky.down = False
    await caught_up(writer)
    await writer.record_activity(change(4))  # a replay of one already written adds nothing
    async with db.acquire() as connection:
        rows = await connection.fetch(
            "SELECT state FROM session_activity WHERE breakout_id = $1 ORDER BY at", breakout
        )
    assert [row["state"] for row in rows] == [change(n).state.value for n in range(1, 5)]


async def test_a_restart_replays_what_the_last_run_journaled(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str, tmp_path: Path
) -> None:
    nowhere = await asyncpg.create_pool(
        f"postgresql://postgres@127.0.0.1:{free_port()}/attendance", min_size=0, max_size=1
    )
    first_run = Journal(tmp_path / "journal")
    first_run.open()
    writer = make_writer(pool=nowhere, journal=first_run)
    writer.start()
    opened = session(breakout, 1)
    await writer.open_session(opened)
    await writer.record_exit(exit_of(opened, ExitReason.SHUTDOWN))
    await writer.close(timeout_s=5)
    first_run.close()
    await nowhere.close()
    assert await stored(db, breakout) == []

    second_run = Journal(tmp_path / "journal")
    second_run.open()
    try:
        assert second_run.backlog == 2
        restarted = make_writer(journal=second_run)
        restarted.start()
        await caught_up(restarted)
    finally:
        second_run.close()
    [row] = await stored(db, breakout)
    assert (row["session_id"], row["exit_reason"]) == ("s1", "shutdown")


async def test_replaying_writes_the_database_already_has_changes_nothing(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str, journal: Journal
) -> None:
    """A crash after a replayed chunk committed but before it left the journal replays it again."""
    opened = session(breakout, 1)
    first_exit = exit_of(opened)
    writer = make_writer()
    writer.start()
    await writer.open_session(opened)
    await writer.record_exit(first_exit)
    later = SessionExit(*first_exit.key, first_exit.at + timedelta(hours=1), ExitReason.DISCONNECT)
    journal.append([opened, first_exit, later])

    again = make_writer(journal=journal)
    again.start()
    await caught_up(again)

    [row] = await stored(db, breakout)
    assert (row["exit_ts"], row["exit_reason"]) == (first_exit.at, "leave")


async def test_a_journal_that_cannot_write_refuses_with_unavailable(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str, journal: Journal
) -> None:
    def disk_full(entries: object) -> None:
        raise OSError(28, "No space left on device")

    journal.append = disk_full  # type: ignore[method-assign, assignment]
    flaky = FlakyPool(db)
    flaky.down = True
    writer = make_writer(pool=cast(asyncpg.Pool, flaky), journal=journal)
    writer.start()
    with pytest.raises(Unavailable, match="could not be stored"):
        await writer.open_session(session(breakout, 1))


async def test_replaying_an_open_with_its_exit_closes_a_row_left_open(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str, journal: Journal
) -> None:
    """The crash came after the open reached the database, before its exit did."""
    opened = session(breakout, 1)
    writer = make_writer()
    writer.start()
    await writer.open_session(opened)
    journal.append([opened, exit_of(opened, ExitReason.DISCONNECT)])

    again = make_writer(journal=journal)
    again.start()
    await caught_up(again)

    [row] = await stored(db, breakout)
    assert row["exit_reason"] == "disconnect"


async def test_sessions_a_gone_process_left_open_close_after_its_journal_replays(
    make_writer: WriterFactory, db: asyncpg.Pool, breakout: str, journal: Journal
) -> None:
    """A process died with journaled writes while PostgreSQL was away: its replacement replays
    them, then closes what that process still had open at the last moment its journal shows."""
    gone = "host:123:dead"
    earlier = session(breakout, 1)
    async with db.acquire() as connection:  # committed before the outage, never closed
        await write_sessions(connection, [replace(earlier, node_id=gone)], [])
    still_open = replace(session(breakout, 2), node_id=gone)
    left = replace(session(breakout, 3), node_id=gone)
    last_exit = exit_of(left)
    journal.append([still_open, left, last_exit])

    replacement = make_writer(journal=journal)
    replacement.start()
    await caught_up(replacement)
    for _ in range(50):
        rows = {row["session_id"]: row for row in await stored(db, breakout)}
        if rows["s1"]["exit_reason"] is not None:
            break
        await asyncio.sleep(0.05)

    assert (rows["s3"]["exit_reason"], rows["s3"]["exit_ts"]) == ("leave", last_exit.at)
    for session_id in ("s1", "s2"):
        assert rows[session_id]["exit_reason"] == "node_lost"
        assert rows[session_id]["exit_ts"] == last_exit.at
    # The replacement's own sessions are not touched.
    mine = session(breakout, 4)
    await replacement.open_session(replace(mine, node_id="host:456:alive"))
    rows = {row["session_id"]: row for row in await stored(db, breakout)}
    assert rows["s4"]["exit_ts"] is None
