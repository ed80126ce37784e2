"""The newest comments a node keeps for joins: kept until a post or delete in the breakout
reaches the node, never from a read that a change overtook, and never for long."""

from __future__ import annotations

from datetime import UTC, datetime

from models.live.chat import NEWEST_FRESH_S, NewestComments
from models.store.comments import Comment

BREAKOUT = ("org-a", "b-1")
OTHER = ("org-a", "b-2")


def comment(text: str) -> Comment:
    return Comment(
        org_id="org-a",
        breakout_id="b-1",
        id=f"id-{text}",
        user_id="ada",
        user_name="Ada",
        text=text,
        reply_to=None,
        created_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_a_read_is_kept_for_joins_until_a_change_in_its_breakout() -> None:
    newest = NewestComments()
    newest.keep({BREAKOUT: [comment("hi")]}, [BREAKOUT, OTHER], 100.0, newest.changes)
    assert newest.get(BREAKOUT, 101.0) == [comment("hi")]
    assert newest.get(OTHER, 101.0) == []  # read, and found no comment: kept as none
    newest.change(BREAKOUT)
    assert newest.get(BREAKOUT, 101.0) is None
    assert newest.get(OTHER, 101.0) == []  # another breakout's change leaves it be


def test_a_read_overtaken_by_a_change_is_not_kept() -> None:
    newest = NewestComments()
    began_at = newest.changes
    newest.change(BREAKOUT)  # a post reached the node while the read was on its way
    newest.keep({}, [BREAKOUT, OTHER], 100.0, began_at)
    assert newest.get(BREAKOUT, 100.0) is None
    assert newest.get(OTHER, 100.0) == []
    newest.keep({BREAKOUT: [comment("hi")]}, [BREAKOUT], 100.5, newest.changes)
    assert newest.get(BREAKOUT, 100.5) == [comment("hi")]


def test_nothing_is_kept_longer_than_the_freshness_window() -> None:
    newest = NewestComments()
    newest.keep({}, [BREAKOUT], 100.0, newest.changes)
    assert newest.get(BREAKOUT, 100.0 + NEWEST_FRESH_S - 0.01) == []
    assert newest.get(BREAKOUT, 100.0 + NEWEST_FRESH_S) is None


def test_a_read_older_than_a_forgetting_keeps_nothing() -> None:
    newest = NewestComments()
    began_at = newest.changes
    for number in range(100_000):  # past what it remembers of changes: it forgets them all
        newest.change(("org-a", f"b-{number}"))
    newest.keep({}, [BREAKOUT], 100.0, began_at)
    assert newest.get(BREAKOUT, 100.0) is None
