"""The journal on disk: order, crash survival, torn lines, one owner per directory."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.domain.records import ActivityState, AttendanceSession, ClientInfo, ExitReason
from models.store.activity import Activity
from models.store.comments import Comment
from models.store.sessions import SessionExit
from models.writes.journal import Journal, JournalEntry, JournalError, decode, encode
from tests.support.records import sample_session

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def opened(number: int) -> AttendanceSession:
    return sample_session(
        "b1",
        number,
        entry_ts=START + timedelta(seconds=number),
        user_name=f"Ünïcode {number}",
        node_id="node-1",
        client=ClientInfo(ip="81.2.69.0", city="London", latitude=51.5, user_agent="UA/1"),
    )


def left(number: int) -> SessionExit:
    return SessionExit(
        f"u{number}", "b1", f"s{number}", START + timedelta(minutes=number), ExitReason.LEAVE
    )


def drain(journal: Journal) -> list[JournalEntry]:
    replayed: list[JournalEntry] = []
    while chunk := journal.next_chunk(2):
        replayed.extend(chunk)
        journal.consumed(len(chunk))
    return replayed


def test_entries_round_trip_through_a_line() -> None:
    comment = Comment("org-a", "b1", "0190abc", "u1", "Ada", "Hi\n\tthere \u00e9", "018f", START)
    activity = Activity("org-a", "b1", "u1", "s1", START, ActivityState.PLAYING)
    entries = (opened(1), left(1), comment, replace(comment, user_name=None, reply_to=None))
    for entry in (*entries, activity):
        assert decode(encode(entry)) == entry


def test_a_torn_or_altered_line_is_refused() -> None:
    line = encode(opened(1))
    with pytest.raises(ValueError, match="torn"):
        decode(line[:-1])
    with pytest.raises(ValueError, match="torn"):
        decode(line.replace("London", "Londom"))


def test_entries_replay_in_append_order_across_segments(journal: Journal) -> None:
    written: list[JournalEntry] = [opened(1), opened(2), left(1), opened(3), left(2)]
    journal.append(written[:2])
    journal.append(written[2:])
    journal.append([left(3)])
    assert journal.backlog == 6

    assert drain(journal) == [*written, left(3)]
    assert journal.backlog == 0
    assert list(journal.directory.glob("*.journal")) == []


def test_appends_while_replaying_go_behind(journal: Journal) -> None:
    journal.append([opened(1), opened(2)])
    first = journal.next_chunk(1)
    journal.consumed(1)
    journal.append([left(1)])

    assert first + drain(journal) == [opened(1), opened(2), left(1)]


def test_a_new_process_finds_what_the_last_one_left(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    before = Journal(directory)
    before.open()
    before.append([opened(1), left(1)])
    # No close(): the process died with its segment open, and its lock went with it.
    before._active.close()  # type: ignore[union-attr]
    before._lock.close()  # type: ignore[union-attr]

    after = Journal(directory)
    after.open()
    try:
        assert after.backlog == 2
        assert drain(after) == [opened(1), left(1)]
    finally:
        after.close()


def test_a_torn_tail_is_skipped_and_the_rest_replayed(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    whole = encode(opened(1)) + encode(left(1))
    (directory / "000000000001.journal").write_text(whole + encode(opened(2))[:40])

    journal = Journal(directory)
    journal.open()
    try:
        assert journal.backlog == 2
        assert drain(journal) == [opened(1), left(1)]
    finally:
        journal.close()


def test_one_directory_has_one_owner(journal: Journal) -> None:
    second = Journal(journal.directory)
    with pytest.raises(JournalError, match="in use"):
        second.open()


def test_a_rejected_entry_is_set_aside_and_passed(journal: Journal) -> None:
    journal.append([opened(1), left(1)])
    chunk = journal.next_chunk(10)
    journal.reject(chunk[0], "violates a constraint")
    journal.consumed(1)

    assert journal.backlog == 0
    kept = (journal.directory / "rejected.log").read_text()
    assert "violates a constraint" in kept
    assert decode(kept.splitlines(keepends=True)[1]) == opened(1)
