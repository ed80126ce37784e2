"""A breakout's comments in PostgreSQL: written in batches with the sessions, read newest first,
taken down by hosts; and who is muted in a breakout until when."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from models.store.database import Connection, record_of

# A batch of comments in one statement; a replayed one (the journal after a crash) is a no-op.
WRITE_COMMENTS = """
INSERT INTO comments (org_id, breakout_id, id, user_id, user_name, text, reply_to, created_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::timestamptz[])
ON CONFLICT (org_id, breakout_id, id, created_at) DO NOTHING
"""
_COLUMNS = "org_id, breakout_id, id, user_id, user_name, text, reply_to, created_at"
# A breakout's comments are in the partitions from the time its record begins (migration 0016).
_OF_BREAKOUT = "org_id = $1 AND breakout_id = $2 AND created_at >= breakout_record_begins($1, $2)"
# The newest $4 shown comments of a breakout older than the id $3 (all when ''), newest first.
SELECT_BEFORE = f"""
SELECT {_COLUMNS} FROM comments
WHERE {_OF_BREAKOUT} AND ($3 = '' OR id < $3) AND deleted_at IS NULL
ORDER BY id DESC
LIMIT $4
"""  # noqa: S608 - the column list is ours
# The newest $3 shown comments of each breakout ($1 orgs, $2 ids, pairwise).
SELECT_NEWEST = f"""
SELECT {_COLUMNS}
FROM unnest($1::text[], $2::text[]) AS k(org, breakout)
CROSS JOIN LATERAL (
    SELECT {_COLUMNS} FROM comments AS c
    WHERE c.org_id = k.org AND c.breakout_id = k.breakout AND c.deleted_at IS NULL
      AND c.created_at >= breakout_record_begins(k.org, k.breakout)
    ORDER BY c.id DESC
    LIMIT $3
) AS newest
"""  # noqa: S608 - the column list is ours
# Every comment of a breakout after the id $3, oldest first, deleted ones with who took them.
SELECT_RECORD = f"""
SELECT {_COLUMNS}, deleted_at, deleted_by FROM comments
WHERE {_OF_BREAKOUT} AND id > $3
ORDER BY id
LIMIT $4
"""  # noqa: S608 - the column list is ours
# The first deletion stands; answers the comment's id when there is such a comment.
DELETE_COMMENT = f"""
UPDATE comments SET deleted_at = coalesce(deleted_at, $4), deleted_by = coalesce(deleted_by, $5)
WHERE {_OF_BREAKOUT} AND id = $3
RETURNING id
"""  # noqa: S608 - the condition is ours
MUTE = """
INSERT INTO comment_mutes (org_id, breakout_id, user_id, until, muted_by, muted_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (org_id, breakout_id, user_id) DO UPDATE
SET until = EXCLUDED.until, muted_by = EXCLUDED.muted_by, muted_at = EXCLUDED.muted_at
"""
SELECT_MUTED_UNTIL = """
SELECT until FROM comment_mutes WHERE org_id = $1 AND breakout_id = $2 AND user_id = $3
"""


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment in a breakout's room, its id made by the node that took it (time first)."""

    org_id: str
    breakout_id: str
    id: str
    user_id: str
    user_name: str | None
    text: str | None
    reply_to: str | None
    created_at: datetime
    deleted_at: datetime | None = None
    deleted_by: str | None = None


class _CommentIds:
    """Comment ids: the millisecond (fixed-width hex), a sequence within it, and this process's
    random tag. They sort as comments were posted (across nodes to within their clocks' skew)
    and need no database to be made, so a comment can be journaled while PostgreSQL is away."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(4)
        self.last_ms = 0
        self.sequence = 0

    def new(self, at: datetime) -> str:
        ms = max(int(at.timestamp() * 1000), self.last_ms)  # never backwards on this node
        self.sequence = self.sequence + 1 if ms == self.last_ms else 0
        self.last_ms = ms
        return f"{ms:012x}{self.sequence:04x}{self.tag}"


new_comment_id = _CommentIds().new


async def write_comments(connection: Connection, comments: Sequence[Comment]) -> None:
    columns = list(
        zip(
            *(
                (
                    c.org_id,
                    c.breakout_id,
                    c.id,
                    c.user_id,
                    c.user_name,
                    c.text,
                    c.reply_to,
                    c.created_at,
                )
                for c in comments
            ),
            strict=True,
        )
    )
    await connection.execute(WRITE_COMMENTS, *(list(column) for column in columns))


def _comment(row: asyncpg.Record) -> Comment:
    return record_of(
        Comment, row, deleted_at=row.get("deleted_at"), deleted_by=row.get("deleted_by")
    )


async def fetch_before(
    connection: Connection, org_id: str, breakout_id: str, before: str, limit: int
) -> list[Comment]:
    """The newest `limit` shown comments older than `before` ('' for the newest), oldest first."""
    rows = await connection.fetch(SELECT_BEFORE, org_id, breakout_id, before, limit)
    return [_comment(row) for row in reversed(rows)]


async def fetch_newest(
    connection: Connection, breakouts: Sequence[tuple[str, str]], limit: int
) -> dict[tuple[str, str], list[Comment]]:
    """The newest `limit` shown comments of each (org, breakout), oldest first; one round trip
    for them all (a breakout without comments is absent)."""
    orgs, ids = [org for org, _ in breakouts], [breakout for _, breakout in breakouts]
    found: dict[tuple[str, str], list[Comment]] = {}
    for row in await connection.fetch(SELECT_NEWEST, orgs, ids, limit):
        found.setdefault((row["org_id"], row["breakout_id"]), []).append(_comment(row))
    return {
        key: sorted(comments, key=lambda comment: comment.id) for key, comments in found.items()
    }


async def fetch_record(
    connection: Connection, org_id: str, breakout_id: str, after: str, limit: int | None
) -> list[Comment]:
    """Every comment after the id `after`, oldest first, deleted ones included."""
    rows = await connection.fetch(SELECT_RECORD, org_id, breakout_id, after, limit)
    return [_comment(row) for row in rows]


async def delete_comment(
    connection: Connection, org_id: str, breakout_id: str, comment_id: str, at: datetime, by: str
) -> bool:
    return (
        await connection.fetchval(DELETE_COMMENT, org_id, breakout_id, comment_id, at, by)
        is not None
    )


async def mute(
    connection: Connection,
    org_id: str,
    breakout_id: str,
    user_id: str,
    until: datetime,
    by: str,
    at: datetime,
) -> None:
    await connection.execute(MUTE, org_id, breakout_id, user_id, until, by, at)


async def muted_until(
    connection: Connection, org_id: str, breakout_id: str, user_id: str
) -> datetime | None:
    found: datetime | None = await connection.fetchval(
        SELECT_MUTED_UNTIL, org_id, breakout_id, user_id
    )
    return found
