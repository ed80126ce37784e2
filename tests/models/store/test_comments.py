"""Reading comments from PostgreSQL: the newest of many breakouts in one statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from models.store.comments import Comment, fetch_before, fetch_newest, write_comments
from tests.support.records import create_breakout

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _comment(breakout: str, number: int) -> Comment:
    return Comment(
        org_id="org-a",
        breakout_id=breakout,
        id=f"{number:04d}",
        user_id="u1",
        user_name="Ada",
        text=f"comment {number}",
        reply_to=None,
        created_at=T0 + timedelta(seconds=number),
    )


async def test_the_newest_of_several_breakouts_come_in_one_read(db: asyncpg.Pool) -> None:
    busy, quiet, deleting = [await create_breakout(db) for _ in range(3)]
    async with db.acquire() as connection:
        await write_comments(
            connection,
            [_comment(busy, n) for n in range(1, 5)] + [_comment(deleting, n) for n in (1, 2)],
        )
        await connection.execute(
            "UPDATE comments SET deleted_at = now(), deleted_by = 'h'"
            " WHERE breakout_id = $1 AND id = '0002'",
            deleting,
        )
        found = await fetch_newest(
            connection, [("org-a", busy), ("org-a", quiet), ("org-a", deleting)], 3
        )
        one_by_one = await fetch_before(connection, "org-a", busy, "", 3)
    assert [c.id for c in found[("org-a", busy)]] == ["0002", "0003", "0004"]  # oldest first
    assert found[("org-a", busy)] == one_by_one
    assert ("org-a", quiet) not in found  # no comments: nothing
    assert [c.id for c in found[("org-a", deleting)]] == ["0001"]  # a deleted one never again
