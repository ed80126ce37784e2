"""Presence broadcasts, coalesced: at most one viewer-count and one presence-diff per breakout
per interval, however many viewers join or leave in it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers.wire import Json, room_name, viewer_json, watchers_room
from models.attendance import ExitOutcome, JoinOutcome
from models.background import pause, stop_task
from models.presence import PresenceStore

logger = logging.getLogger(__name__)

Emit = Callable[[str, Json, list[str]], Awaitable[None]]


@dataclass(slots=True)
class _Pending:
    joins: list[Json] = field(default_factory=list)
    leaves: list[Json] = field(default_factory=list)


class PresenceBroadcaster:
    """Collects joins and leaves per breakout and sends them every `interval_s`.

    A join storm of a thousand viewers costs each viewer a few viewer-count events instead of a
    thousand, and each host a few diffs carrying every join, none dropped. The count is read
    from the presence store when sent, so with several nodes it is the cluster's count then.
    """

    def __init__(self, emit: Emit, presence: PresenceStore, interval_s: float) -> None:
        self._emit = emit
        self._presence = presence
        self._interval_s = interval_s
        self._pending: dict[str, _Pending] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def joined(self, outcome: JoinOutcome) -> None:
        if outcome.switched_from is not None:
            self.left(outcome.switched_from)
        session = outcome.session
        pending = self._pending.setdefault(session.breakout_id, _Pending())
        if not any(join["sessionId"] == session.session_id for join in pending.joins):
            pending.joins.append(viewer_json(outcome.viewer))

    def left(self, outcome: ExitOutcome) -> None:
        session = outcome.session
        pending = self._pending.setdefault(session.breakout_id, _Pending())
        reason = None if session.exit_reason is None else session.exit_reason.value
        pending.leaves.append(
            {"userId": session.user_id, "sessionId": session.session_id, "reason": reason}
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="presence-broadcaster")

    async def close(self) -> None:
        """Send what is pending, then stop."""
        await stop_task(self._task, self._stopping)
        await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            counts = await self._presence.counts(list(pending))
        except Exception:  # the store is away: keep the changes for the next round
            logger.exception("presence counts for %d breakouts failed", len(pending))
            for breakout_id, changes in pending.items():
                later = self._pending.setdefault(breakout_id, _Pending())
                later.joins[:0], later.leaves[:0] = changes.joins, changes.leaves
            return
        for (breakout_id, changes), count in zip(pending.items(), counts, strict=True):
            try:
                await self._send(breakout_id, changes, count)
            except Exception:  # one breakout's failure must not stop the others' updates
                logger.exception("presence broadcast for breakout %s failed", breakout_id)

    async def _run(self) -> None:
        while not await pause(self._stopping, self._interval_s):
            await self.flush()

    async def _send(self, breakout_id: str, changes: _Pending, count: int) -> None:
        rooms = [room_name(breakout_id), watchers_room(breakout_id)]
        await self._emit("viewer-count", {"breakoutId": breakout_id, "count": count}, rooms)
        diff = {"breakoutId": breakout_id, "joins": changes.joins, "leaves": changes.leaves}
        await self._emit("presence-diff", diff, [watchers_room(breakout_id)])
