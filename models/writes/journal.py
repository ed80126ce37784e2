"""The writer's journal: fsynced local files of writes (session opens and exits, comments,
activity) the database could not take yet.

While PostgreSQL is unreachable the writer appends each batch here and acks it once the bytes
are on disk; when the database answers again the journal is replayed into it, oldest first.
Replay is idempotent (opens are `ON CONFLICT DO NOTHING`, an exit only fills a null exit_ts), so
a replay cut short by a crash is simply done again at the next start.

On disk: a directory of segment files `<sequence>.journal`, one entry per line as
`<crc32 hex> <json>`. A line that is torn (no newline: the process died inside the write, so it
was never acked) or fails its checksum is skipped and logged, never replayed half.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import zlib
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from models.domain.records import (
    ActivityState,
    AttendanceSession,
    ClientInfo,
    ExitReason,
    SessionType,
)
from models.store.activity import Activity
from models.store.comments import Comment
from models.store.sessions import SessionExit

logger = logging.getLogger(__name__)

JournalEntry = AttendanceSession | SessionExit | Comment | Activity

SEGMENT_SUFFIX = ".journal"
REJECTED_NAME = "rejected.log"
LOCK_NAME = ".lock"


class JournalError(Exception):
    """The journal cannot be used (its directory is held by another process, or unreadable)."""


def encode(entry: JournalEntry) -> str:
    if isinstance(entry, Comment):
        body: dict[str, Any] = {
            "comment": [entry.org_id, entry.breakout_id, entry.id],
            "user": entry.user_id,
            "name": entry.user_name,
            "text": entry.text,
            "reply": entry.reply_to,
            "at": entry.created_at.isoformat(),
        }
    elif isinstance(entry, Activity):
        body = {
            "activity": [entry.user_id, entry.breakout_id, entry.session_id],
            "org": entry.org_id,
            "at": entry.at.isoformat(),
            "state": entry.state.value,
        }
    elif isinstance(entry, SessionExit):
        body = {
            "exit": [entry.user_id, entry.breakout_id, entry.session_id],
            "node": entry.node_id,
            "at": entry.at.isoformat(),
            "reason": entry.reason.value,
        }
        if entry.entry_ts is not None:
            body["entry"] = entry.entry_ts.isoformat()
    else:
        body = {
            "open": [entry.user_id, entry.breakout_id, entry.session_id],
            "type": entry.session_type.value,
            "at": entry.entry_ts.isoformat(),
            "name": entry.user_name,
            "org": entry.org_id,
            "node": entry.node_id,
            "client": asdict(entry.client),
        }
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return f"{zlib.crc32(text.encode()):08x} {text}\n"


def decode(line: str) -> JournalEntry:
    """The entry of one journal line; ValueError when it is torn or corrupt."""
    checksum, _, text = line.rstrip("\n").partition(" ")
    if not line.endswith("\n") or f"{zlib.crc32(text.encode()):08x}" != checksum:
        raise ValueError("torn or corrupt journal line")
    body = json.loads(text)
    if "comment" in body:
        org_id, breakout_id, comment_id = body["comment"]
        return Comment(
            org_id=org_id,
            breakout_id=breakout_id,
            id=comment_id,
            user_id=body["user"],
            user_name=body["name"],
            text=body["text"],
            reply_to=body["reply"],
            created_at=datetime.fromisoformat(body["at"]),
        )
    if "activity" in body:
        user_id, breakout_id, session_id = body["activity"]
        return Activity(
            org_id=body["org"],
            breakout_id=breakout_id,
            user_id=user_id,
            session_id=session_id,
            at=datetime.fromisoformat(body["at"]),
            state=ActivityState(body["state"]),
        )
    if "exit" in body:
        user_id, breakout_id, session_id = body["exit"]
        return SessionExit(
            user_id,
            breakout_id,
            session_id,
            datetime.fromisoformat(body["at"]),
            ExitReason(body["reason"]),
            body.get("node"),  # absent in journals written before exits named their node
            None if "entry" not in body else datetime.fromisoformat(body["entry"]),
        )
    user_id, breakout_id, session_id = body["open"]
    return AttendanceSession(
        user_id=user_id,
        breakout_id=breakout_id,
        session_id=session_id,
        session_type=SessionType(body["type"]),
        entry_ts=datetime.fromisoformat(body["at"]),
        user_name=body["name"],
        org_id=body["org"],
        node_id=body["node"],
        client=ClientInfo(**body["client"]),
    )


class Journal:
    """Append-only segments with a replay cursor; one process owns a directory at a time.

    Blocking file I/O: the writer calls these methods from a worker thread, one at a time.
    New entries always go to a fresh segment; a segment is read for replay only once it is
    sealed (no longer appended to), so reading and appending never share a file.
    """

    def __init__(self, directory: Path, *, segment_max_entries: int = 10_000) -> None:
        self.directory = directory
        self._segment_max_entries = segment_max_entries
        self._lock: IO[bytes] | None = None
        self._sealed: list[Path] = []
        self._active: IO[bytes] | None = None
        self._active_path: Path | None = None
        self._active_entries = 0
        self._loaded: list[JournalEntry] = []
        self._read_index = 0
        self.backlog = 0

    def open(self) -> None:
        """Take the directory (an exclusive lock) and count what an earlier run left."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = (self.directory / LOCK_NAME).open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise JournalError(
                f"journal directory {self.directory} is in use by another server process: "
                "give this one a JOURNAL_DIR (or VAR_DIR) of its own"
            ) from None
        self._lock = lock
        self._sealed = sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}"))
        self.backlog = sum(len(self._read_segment(path)) for path in self._sealed)
        if self.backlog:
            logger.warning(
                "journal %s holds %d writes from an earlier run; replaying them",
                self.directory,
                self.backlog,
            )

    def close(self) -> None:
        self._close_active()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def append(self, entries: Sequence[JournalEntry]) -> None:
        """Write the entries and fsync them: once this returns they survive a crash."""
        if not entries:
            return
        if self._active is None:
            self._start_segment()
        assert self._active is not None  # noqa: S101 - _start_segment sets it
        self._active.write("".join(encode(entry) for entry in entries).encode())
        self._active.flush()
        os.fsync(self._active.fileno())
        self._active_entries += len(entries)
        self.backlog += len(entries)
        if self._active_entries >= self._segment_max_entries:
            self._close_active()

    def next_chunk(self, max_entries: int) -> list[JournalEntry]:
        """The oldest entries not yet replayed (at most `max_entries`), in append order."""
        if self._read_index >= len(self._loaded):
            if not self._sealed and self._active is not None:
                self._close_active()  # replay has caught up with the writing: seal it
            if not self._sealed:
                self.backlog = 0  # nothing is left on disk, whatever a skipped line miscounted
                return []
            self._loaded = self._read_segment(self._sealed[0])
            self._read_index = 0
        return self._loaded[self._read_index : self._read_index + max_entries]

    def consumed(self, count: int) -> None:
        """The first `count` entries of the last chunk are in the database."""
        self._read_index += count
        self.backlog -= count
        if self._read_index >= len(self._loaded) and self._sealed:
            self._sealed.pop(0).unlink()
            self._fsync_directory()
            self._loaded, self._read_index = [], 0

    def reject(self, entry: JournalEntry, reason: str) -> None:
        """Consume the oldest entry, which the database refuses for good, keeping it aside."""
        self.set_aside([entry], reason)
        self.consumed(1)

    def set_aside(self, entries: Sequence[JournalEntry], reason: str) -> None:
        """Keep entries the database refused beside the journal, for an operator."""
        with (self.directory / REJECTED_NAME).open("a", encoding="utf-8") as rejected:
            for entry in entries:
                rejected.write(f"# {reason}\n{encode(entry)}")
            rejected.flush()
            os.fsync(rejected.fileno())

    def _start_segment(self) -> None:
        names = [path.name for path in self._sealed]
        last = max((int(name.removesuffix(SEGMENT_SUFFIX)) for name in names), default=0)
        if self._active_path is not None:
            last = max(last, int(self._active_path.name.removesuffix(SEGMENT_SUFFIX)))
        self._active_path = self.directory / f"{last + 1:012d}{SEGMENT_SUFFIX}"
        self._active = self._active_path.open("ab")
        self._active_entries = 0
        self._fsync_directory()  # the new file's name must survive a crash too

    def _close_active(self) -> None:
        if self._active is None or self._active_path is None:
            return
        self._active.close()
        self._active = None
        if self._active_entries:
            self._sealed.append(self._active_path)
        else:
            self._active_path.unlink(missing_ok=True)

    def _read_segment(self, path: Path) -> list[JournalEntry]:
        entries: list[JournalEntry] = []
        with path.open(encoding="utf-8", newline="\n") as segment:
            for number, line in enumerate(segment, start=1):
                try:
                    entries.append(decode(line))
                except (ValueError, KeyError, TypeError) as exc:
                    logger.error("journal %s line %d skipped: %s", path.name, number, exc)
        return entries

    def _fsync_directory(self) -> None:
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
