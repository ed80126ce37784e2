"""Engagement: what a viewer's client says it is doing (visible, hidden, playing, paused,
idle). Each change of state of an open session is written through the session writer (batched,
journaled while PostgreSQL is away) and shown to the breakout's hosts in live presence; the
time in each state is counted in SQL from these changes and the session's entry and exit."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.domain.errors import NotJoined, RateLimited
from models.domain.rates import TokenBucket
from models.domain.records import ActivityState, now_ms
from models.live.desk import Attendance
from models.live.presence import PresenceStore
from models.store.activity import Activity
from models.writes.writer import SessionWriter

ACTIVITY_BURST = 10
_ONE_MS = timedelta(milliseconds=1)


@dataclass(slots=True)
class _Reporting:
    """One connection's reports: its bucket, and the last state it recorded (of which session)."""

    bucket: TokenBucket
    session_id: str | None = None
    state: ActivityState | None = None
    at: datetime | None = None


class Engagement:
    def __init__(
        self,
        writer: SessionWriter,
        attendance: Attendance,
        presence: PresenceStore,
        *,
        rate_per_min: float,
        burst: int = ACTIVITY_BURST,
        clock: Callable[[], datetime] = now_ms,
    ) -> None:
        self._writer = writer
        self._attendance = attendance
        self._presence = presence
        self._rate_per_s = rate_per_min / 60
        self._burst = burst
        self._clock = clock
        self._reporting: dict[str, _Reporting] = {}

    async def report(
        self, connection_id: str, breakout_id: str, state: ActivityState
    ) -> Activity | None:
        """Record that the connection's session in the breakout is now in `state`, once it is
        durable; None when that is what it last recorded (nothing changes)."""
        session = self._attendance.current(connection_id)
        if session is None or session.breakout_id != breakout_id:
            raise NotJoined(f"join breakout {breakout_id} before reporting activity in it")
        reporting = self._reporting.get(connection_id)
        if reporting is None:
            bucket = TokenBucket(self._rate_per_s, self._burst, time.monotonic())
            reporting = self._reporting[connection_id] = _Reporting(bucket)
        if reporting.session_id != session.session_id:  # a new session: nothing said of it yet
            reporting.session_id, reporting.state, reporting.at = session.session_id, None, None
        if reporting.state is state:
            return None
        if not reporting.bucket.take(time.monotonic()):
            raise RateLimited("too many activity reports; report changes of state only")
        # Strictly after the last change of this session (two in one millisecond keep their
        # order), and never before the session began.
        at = max(self._clock(), session.entry_ts)
        if reporting.at is not None and at <= reporting.at:
            at = reporting.at + _ONE_MS
        activity = Activity(
            org_id=session.org_id,
            breakout_id=session.breakout_id,
            user_id=session.user_id,
            session_id=session.session_id,
            at=at,
            state=state,
        )
        before = reporting.state, reporting.at
        reporting.state, reporting.at = state, at  # set first: a second report may come meanwhile
        try:
            await self._writer.record_activity(activity)
        except Exception:
            if reporting.at == at:  # not recorded: the next report of this state is a change
                reporting.state, reporting.at = before
            raise
        await self._presence.set_activity(session.place, session.session_id, state.value, at)
        return activity

    def forget(self, connection_id: str) -> None:
        """The connection is gone."""
        self._reporting.pop(connection_id, None)
