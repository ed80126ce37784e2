"""Presence broadcasts, coalesced: at most one viewer-count and one presence-diff per breakout
per interval, however many viewers join or leave in it; one cluster message per interval."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers.wire.names import PRESENCE_DIFF, VIEWER_COUNT, chat_room, watchers_room
from handlers.wire.records import Json, activity_json, leave_json, viewer_json
from models.cluster.bus import Bus, Kind
from models.domain.fields import iso_ms
from models.domain.records import ExitReason, ids_of_place, org_place
from models.live.desk import ExitOutcome, JoinOutcome
from models.live.presence import Away, PresenceStore
from models.runtime.loops import Loop
from models.runtime.metrics import Metrics
from models.store.activity import Activity

logger = logging.getLogger(__name__)

Emit = Callable[[str, Json, list[str]], Awaitable[None]]


@dataclass(slots=True)
class _Pending:
    joins: list[Json] = field(default_factory=list)
    leaves: list[Json] = field(default_factory=list)
    # Viewers whose connection was lost (`reconnecting`) or who resumed (`live`), in order.
    states: list[Json] = field(default_factory=list)
    # The sessions in `joins`: a join storm into one breakout must not cost a scan per join.
    joined: set[str] = field(default_factory=set)
    # What viewers say they are doing: the last change of each session in the interval.
    activities: dict[str, Json] = field(default_factory=dict)


class PresenceBroadcaster:
    """Collects joins and leaves per breakout and sends them every `interval_s`.

    A join storm of a thousand viewers costs each viewer a few viewer-count events instead of a
    thousand, and each host a few diffs carrying every join, none dropped. The count is read
    from the presence store when sent, so with several nodes it is the cluster's count then.

    Each interval's updates of all breakouts travel as one bus message, and every node sends
    them to its own sockets (`deliver`): two Socket.IO emits through Redis per breakout would
    cost every node a pub/sub message each, for every breakout, every interval.
    """

    def __init__(
        self,
        emit_here: Emit,
        bus: Bus,
        presence: PresenceStore,
        interval_s: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._emit_here = emit_here
        self._bus = bus
        self._presence = presence
        self._pending: dict[str, _Pending] = {}
        self._loop = Loop("presence-broadcast", self._send, every_s=interval_s, metrics=metrics)

    def joined(self, outcome: JoinOutcome) -> None:
        if outcome.switched_from is not None:
            self.left(outcome.switched_from)
        session = outcome.session
        pending = self._pending_of(session.place)
        if outcome.was_away:  # a resume: live again, not a new arrival
            pending.states.append(
                {"userId": session.user_id, "sessionId": session.session_id, "state": "live"}
            )
        elif session.session_id not in pending.joined:
            pending.joined.add(session.session_id)
            pending.joins.append(viewer_json(outcome.viewer))

    def left(self, outcome: ExitOutcome) -> None:
        session = outcome.session
        pending = self._pending_of(session.place)
        if outcome.away:  # its client may still resume it
            pending.states.append(
                {
                    "userId": session.user_id,
                    "sessionId": session.session_id,
                    "state": "reconnecting",
                    "since": iso_ms(session.exit_ts),
                }
            )
            return
        reason = None if session.exit_reason is None else session.exit_reason.value
        pending.leaves.append(
            leave_json(session.user_id, session.session_id, reason, session.exit_ts)
        )

    def activity(self, activity: Activity) -> None:
        """A viewer's client says it is doing something else now."""
        place = org_place(activity.org_id, activity.breakout_id)
        self._pending_of(place).activities[activity.session_id] = activity_json(activity)

    def gone(self, away: Away) -> None:
        """A viewer whose window to resume ran out: it left when last heard."""
        self._pending_of(away.place).leaves.append(
            leave_json(away.user_id, away.session_id, ExitReason.DISCONNECT.value, away.since)
        )

    def _pending_of(self, place: str) -> _Pending:
        pending = self._pending.get(place)
        if pending is None:
            pending = self._pending[place] = _Pending()
        return pending

    def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        """Stop, then send what is pending."""
        await self._loop.stop()
        await self.flush()

    async def flush(self) -> None:
        """Send what is pending now (at shutdown: a failure is logged, not raised)."""
        try:
            await self._send()
        except Exception:
            logger.exception("presence updates not sent")

    async def _send(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            counts = await self._presence.counts(list(pending))
        except Exception:  # the store is away: keep the changes for the next round
            for place, changes in pending.items():
                later = self._pending_of(place)
                later.joins[:0], later.leaves[:0] = changes.joins, changes.leaves
                later.states[:0] = changes.states
                later.joined |= changes.joined
                later.activities = changes.activities | later.activities
            raise
        updates = [
            {
                "place": place,
                "breakoutId": ids_of_place(place)[1],
                "count": count,
                "joins": changes.joins,
                "leaves": changes.leaves,
                "states": changes.states,
                "activities": list(changes.activities.values()),
            }
            for (place, changes), count in zip(pending.items(), counts, strict=True)
        ]
        await self._bus.publish({"kind": Kind.PRESENCE_UPDATES, "updates": updates})

    async def deliver(self, updates: list[Json]) -> None:
        """Send one interval's updates (from any node) to this node's sockets."""
        for update in updates:
            place, breakout_id = update["place"], update["breakoutId"]
            try:
                await self._emit_here(
                    VIEWER_COUNT,
                    {"breakoutId": breakout_id, "count": update["count"]},
                    [chat_room(place), watchers_room(place)],
                )
                diff = {
                    "breakoutId": breakout_id,
                    "joins": update["joins"],
                    "leaves": update["leaves"],
                    # Absent from a node not yet updated.
                    "states": update.get("states", []),
                    "activities": update.get("activities", []),
                }
                await self._emit_here(PRESENCE_DIFF, diff, [watchers_room(place)])
            except Exception:  # one breakout's failure must not stop the others' updates
                logger.exception("presence broadcast for breakout %s failed", breakout_id)
