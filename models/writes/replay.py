"""Journal replay: journaled writes into PostgreSQL once it answers, then a gone run's sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime

import asyncpg

from models.domain.records import AttendanceSession
from models.store.comments import Comment
from models.store.database import DATABASE_GONE
from models.store.sessions import Written, session_key
from models.writes.journal import Journal, JournalEntry

logger = logging.getLogger(__name__)

# What the writer lends the replay: its statement for a batch of entries, and the one closing
# the sessions of gone nodes (both on the writer's connection, so only under `turn`).
Apply = Callable[[list[JournalEntry]], Awaitable[Written]]
CloseLost = Callable[[Sequence[str], datetime], Awaitable[int]]


@dataclass(eq=False)
class JournalReplay:
    """Moves the journal's entries into PostgreSQL, oldest first, a chunk per turn.

    Each `round` (a background loop every DB_RETRY_S) replays the whole backlog, stopping at the
    first sign that the database is still away. Replay is idempotent, so a chunk cut short by a
    crash is simply replayed again. `turn` is shared with the writer: a chunk and a batch of new
    writes never use the connection or the journal at once, and while a backlog remains the
    writer journals behind it, so an exit never reaches the database before its open.

    What the journal held at start was left by a process that is gone (the journal is one
    process's alone): once it is replayed, the sessions that process still had open are closed
    at the last moment its journal shows it alive (`node_lost`).
    """

    journal: Journal
    _: KW_ONLY
    apply: Apply
    close_lost: CloseLost
    turn: asyncio.Lock
    chunk_rows: int
    # Entries at the head of the journal that a gone run left; its nodes, and when last alive.
    _inherited: int = field(init=False)
    _lost_nodes: set[str] = field(init=False, default_factory=set)
    _lost_last_alive: datetime | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._inherited = self.journal.backlog

    async def round(self) -> None:
        """Replay what the journal holds; then close what a gone run left open."""
        replayed = False
        while self.journal.backlog:
            async with self.turn:
                if not await self._replay_chunk():
                    return  # the database is still away: the next round tries again
            replayed = True
        if replayed:
            logger.info("journal replayed; writing to the database again")
        self._inherited = 0  # whatever was skipped as torn or corrupt is gone for good
        if self._lost_nodes:
            async with self.turn:
                await self._close_lost_sessions()

    async def _replay_chunk(self) -> bool:
        """Replay the oldest entries; False when the database is away."""
        journal = self.journal
        entries = await asyncio.to_thread(journal.next_chunk, self.chunk_rows)
        try:
            written = await self.apply(entries)
        except DATABASE_GONE:
            return False
        except asyncpg.PostgresError as exc:
            logger.warning("journal chunk refused (%s); replaying one by one", exc)
            return await self._replay_each(entries)
        await self._set_aside_refused(entries, written)
        await asyncio.to_thread(journal.consumed, len(entries))
        self._note_replayed(entries)
        return True

    async def _replay_each(self, entries: list[JournalEntry]) -> bool:
        for entry in entries:
            try:
                written = await self.apply([entry])
            except DATABASE_GONE:
                return False
            except asyncpg.PostgresError as exc:
                logger.error("journaled write refused by the database, set aside: %s", exc)
                await asyncio.to_thread(self.journal.reject, entry, str(exc))
            else:
                await self._set_aside_refused([entry], written)
                await asyncio.to_thread(self.journal.consumed, 1)
            self._note_replayed([entry])
        return True

    async def _set_aside_refused(self, entries: list[JournalEntry], written: Written) -> None:
        """Opens the database refused (their breakout had ended before they began): acked from
        the journal, so kept aside for an operator instead of dropped."""
        refused = [
            entry
            for entry in entries
            if isinstance(entry, AttendanceSession) and session_key(entry) in written.refused
        ]
        if refused:
            logger.error(
                "%d journaled opens came after their breakout ended; set aside", len(refused)
            )
            await asyncio.to_thread(
                self.journal.set_aside, refused, "its breakout had ended before it began"
            )

    def _note_replayed(self, entries: list[JournalEntry]) -> None:
        """Remember which gone processes' writes were replayed, and when they were last alive."""
        inherited = entries[: self._inherited]
        self._inherited -= len(inherited)
        for entry in inherited:
            if isinstance(entry, AttendanceSession):
                moment = entry.entry_ts
                if entry.node_id:
                    self._lost_nodes.add(entry.node_id)
            elif isinstance(entry, Comment):
                moment = entry.created_at
            else:
                moment = entry.at
            if self._lost_last_alive is None or moment > self._lost_last_alive:
                self._lost_last_alive = moment

    async def _close_lost_sessions(self) -> None:
        assert self._lost_last_alive is not None  # noqa: S101 - set with the nodes
        nodes = sorted(self._lost_nodes)
        try:
            count = await self.close_lost(nodes, self._lost_last_alive)
        except DATABASE_GONE:
            return
        logger.info(
            "closed %d sessions left open by gone node(s) %s (node_lost)", count, ", ".join(nodes)
        )
        self._lost_nodes.clear()
