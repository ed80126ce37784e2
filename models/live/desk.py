"""The attendance desk: opens a session on every join and closes it on every way out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from models.domain.access import (
    HOST,
    HOSTS,
    JOIN,
    JOINERS,
    require_can_host,
    require_can_join,
    require_can_read_sessions,
    require_role,
    require_unexpired,
)
from models.domain.errors import NotFound, NotJoined, Unavailable
from models.domain.records import (
    AttendanceSession,
    Breakout,
    ClientInfo,
    ExitReason,
    Identity,
    SessionType,
    ids_of_place,
    now_ms,
)
from models.live.presence import Away, PresenceStore, Viewer
from models.runtime.metrics import Metrics
from models.store.breakouts import BreakoutDirectory, BreakoutSearch
from models.store.sessions import Resume, SessionExit
from models.writes.writer import SessionWriter

logger = logging.getLogger(__name__)

SESSION_ID_BYTES = 12  # 96 random bits, 16 URL-safe characters
# How often a resume looks whether the connection that still holds its session has let it go
# (on this node at once; on another, once that node hears of it): first after RESUME_POLL_S,
# then twice as long each time up to RESUME_POLL_MAX_S (after a kill, every client of the
# dead node resumes at once). It waits at most `resume_wait_s`: long enough for a killed node
# to be seen silent (Holders.silent_since).
RESUME_POLL_S = 0.1
RESUME_POLL_MAX_S = 0.4
# A connection heard from more recently than this is its client's, there now (a resume that
# names its session is a second claim, not a reconnect): it is not let go.
HOLDER_SILENT_S = 1.0

# Ways out a client may come back from within RECONNECT_GRACE_S (RESUME_SESSION lists them too):
# its connection was lost, its node died, or its node stopped (a rolling restart).
RESUMABLE = frozenset({ExitReason.DISCONNECT, ExitReason.NODE_LOST, ExitReason.SHUTDOWN})

# When the client of a connection (by id) was last heard: a released connection's client left
# then, since it came back on another.
LastHeard = Callable[[str], datetime]


def new_session_id() -> str:
    """A fresh id that begins with a letter or digit, so that no export has to alter it
    (a spreadsheet would read a leading `-` as a formula, and `csv_cell` would prefix it)."""
    while True:
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        if session_id[0].isalnum():
            return session_id


@dataclass(frozen=True, slots=True)
class ExitOutcome:
    """A session that ended, and how many viewers its breakout has left. `away`: its client may
    still resume it, so it is shown reconnecting (and counted) until its window runs out."""

    session: AttendanceSession
    count: int
    away: bool = False


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    """The open session after a join, the breakout's count, and the session a switch closed."""

    session: AttendanceSession
    count: int
    switched_from: ExitOutcome | None = None
    # The user's older sessions in this breakout beyond its device limit, oldest first: the
    # caller has them expelled wherever they are (`expel`, on their node).
    over_device_limit: tuple[str, ...] = ()
    # The session goes on from an earlier connection of its client (a resume).
    resumed: bool = False
    # A connection of this node that still held the resumed session, and its exit: its client
    # is back on this one, so the caller closes it.
    released: tuple[str, ExitOutcome] | None = None
    # The resumed viewer was still shown (as away): it is live again, not a new arrival.
    was_away: bool = False

    @property
    def viewer(self) -> Viewer:
        return Viewer.of(self.session)


class Holders(Protocol):
    """The other nodes, as a resume needs them: is one silent, and let one go of a session."""

    async def silent_since(self, node_id: str) -> datetime | None:
        """When a node that has stopped beating last beat; None while it beats."""

    async def release(self, place: str, session_id: str) -> None:
        """Ask whichever node holds the session to let it go (`Attendance.release`)."""


@dataclass(slots=True)
class _Seat:
    connection_id: str
    identity: Identity
    client: ClientInfo
    current: AttendanceSession | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Attendance:
    """Keeps each connection's open session and writes every entry and exit through the writer.

    A connection is in at most one breakout. Its events may arrive concurrently (python-socketio
    runs each in its own task), so everything done for one connection happens under its lock:
    callers hold it with `seat()` across their own room changes too.
    """

    def __init__(
        self,
        *,
        writer: SessionWriter,
        breakouts: BreakoutDirectory,
        presence: PresenceStore,
        node_id: str,
        device_limit: int = 0,
        reconnect_grace_s: float = 30.0,
        resume_wait_s: float = 4.0,
        holders: Holders | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = now_ms,
    ) -> None:
        self._reconnect_grace_s = reconnect_grace_s
        self._resume_wait_s = resume_wait_s
        # The other nodes, for a resume of a session one of them holds; set by the cluster
        # once it exists (it carries out commands on this desk, so it comes after it).
        self.holders = holders
        self._metrics = metrics
        self._writer = writer
        self._breakouts = breakouts
        self._presence = presence
        self._node_id = node_id
        self._device_limit = device_limit
        self._clock = clock
        self._seats: dict[str, _Seat] = {}
        self._seat_of_session: dict[str, _Seat] = {}

    @property
    def connections(self) -> int:
        return len(self._seats)

    def identity(self, connection_id: str) -> Identity:
        seat = self._seats.get(connection_id)
        if seat is None:
            raise NotJoined("this connection is not registered")
        return seat.identity

    def current(self, connection_id: str) -> AttendanceSession | None:
        """The connection's open session now (read without its lock: a snapshot)."""
        seat = self._seats.get(connection_id)
        if seat is None:
            raise NotJoined("this connection is not registered")
        return seat.current

    async def presence(
        self, identity: Identity, breakout_id: str, *, create: bool = False
    ) -> list[Viewer]:
        """Who is in a breakout now, for a host or admin of its org.

        With `create`, a host watching a breakout nobody has joined yet creates it (when
        auto-create is on), as a join would: hosts often open their view before the class starts.
        """
        require_unexpired(identity, self._clock())
        if create:
            require_role(identity, HOSTS, HOST)
            breakout = await self._breakouts.get_or_create(breakout_id, identity)
        else:
            breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_host(identity, breakout)
        return await self._presence.viewers(breakout.place)

    def connect(self, connection_id: str, identity: Identity, client: ClientInfo) -> None:
        self._seats[connection_id] = _Seat(connection_id, identity, client)

    def seat(self, connection_id: str) -> Seat:
        """One connection's seat: `async with` it to hold the connection's lock, so that
        everything done through it is serialised."""
        seat = self._seats.get(connection_id)
        if seat is None:
            raise NotJoined("this connection is not registered")
        return Seat(self, connection_id, seat)

    async def record_exit(
        self,
        session: AttendanceSession,
        at: datetime,
        reason: ExitReason,
        *,
        said_goodbye: bool = False,
    ) -> ExitOutcome:
        """The one way a session ends: leave, disconnect, switch, expulsion, end, node loss.

        A session its client may resume stays shown, as away, until its window runs out
        (`sweep_away`), unless its client `said_goodbye` (disconnected on purpose). An exit
        that closed nothing (another node took the session over, or it had ended already)
        leaves presence alone."""
        closed = session.closed(at, reason)
        assert closed.exit_ts is not None  # noqa: S101 - closed() always sets it
        closed_it = await self._writer.record_exit(
            SessionExit(
                session.user_id,
                session.breakout_id,
                session.session_id,
                closed.exit_ts,
                reason,
                session.node_id,
                session.entry_ts,
            )
        )
        until = closed.exit_ts + timedelta(seconds=self._reconnect_grace_s)
        away = reason in RESUMABLE and not said_goodbye and until > self._clock()
        try:
            if not closed_it:
                count = await self._count(session.place)
            elif away:
                count = await self._presence.mark_away(
                    Away(session.place, session.user_id, session.session_id, closed.exit_ts), until
                )
            else:
                count = await self._presence.remove(
                    session.place, session.user_id, session.session_id
                )
        except Exception:  # the exit is durable; a stale viewer card is the lesser harm
            logger.exception("session %s closed but still shown as present", session.session_id)
            count = 0
        self._seat_of_session.pop(session.session_id, None)
        if self._metrics is not None:
            self._metrics.exits.labels(reason=reason.value).inc()
        return ExitOutcome(session=closed, count=count, away=away and closed_it)

    async def breakouts(
        self, identity: Identity, wanted: BreakoutSearch
    ) -> list[tuple[Breakout, int | None]]:
        """A page of the identity's org's breakouts, each with its live viewer count (None while
        live presence is away)."""
        found = await self._breakouts.search(identity, wanted, self._clock())
        return list(zip(found, await self._counts(found), strict=True))

    async def breakout(self, identity: Identity, breakout_id: str) -> tuple[Breakout, int | None]:
        """One breakout of the identity's org and its live viewer count, for those who may read
        its sessions."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_read_sessions(identity, breakout)
        [count] = await self._counts([breakout])
        return breakout, count

    async def _counts(self, breakouts: list[Breakout]) -> list[int | None]:
        if not breakouts:
            return []
        try:
            return list(await self._presence.counts([b.place for b in breakouts]))
        except Unavailable:
            return [None] * len(breakouts)

    async def _count(self, place: str) -> int:
        """The breakout's viewer count, or 0 while live presence is away."""
        try:
            [count] = await self._presence.counts([place])
        except Unavailable:
            return 0
        return count

    async def sweep_away(self) -> list[Away]:
        """Stop showing the viewers whose window to resume ran out (on any node); they left
        when last heard. Each is returned to one node alone."""
        return await self._presence.sweep_away(self._clock())

    def forget_breakout(self, place: str) -> None:
        """Another node changed the breakout: read it afresh next time."""
        self._breakouts.forget(*ids_of_place(place))

    async def end_breakout(self, identity: Identity, breakout_id: str) -> Breakout:
        """Mark a breakout ended (host or admin of its org); callers then have every node close
        its sessions there (`close_breakout`)."""
        require_unexpired(identity, self._clock())
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_host(identity, breakout)
        return await self._breakouts.end(breakout.org_id, breakout.id, self._clock())

    async def close_breakout(self, place: str, ended_at: datetime) -> list[tuple[str, ExitOutcome]]:
        """Close this node's open sessions in an ended breakout (its place) at its end time."""
        self.forget_breakout(place)  # no join may pass on a cached "still running"
        closed = []
        for seat in list(self._seats.values()):
            if seat.current is None or seat.current.place != place:
                continue
            async with seat.lock:
                current = seat.current
                if current is None or current.place != place:
                    continue
                outcome = await self.record_exit(current, ended_at, ExitReason.BREAKOUT_ENDED)
                seat.current = None
                closed.append((seat.connection_id, outcome))
        return closed

    async def expel(self, session_id: str) -> tuple[str, ExitOutcome] | None:
        """Close a session over its user's device limit, if it is open on this node.

        Returns the connection it was open on and the exit; None when another node holds it or
        it has ended meanwhile.
        """
        seat = self._seat_of_session.get(session_id)
        if seat is None:
            return None
        return await self._take(seat, session_id, self._clock, ExitReason.DEVICE_LIMIT)

    async def release(
        self, session_id: str, last_heard: LastHeard
    ) -> tuple[str, ExitOutcome] | None:
        """Let go of a session its client resumes on another connection, if it is open on this
        node and its connection has been silent for HOLDER_SILENT_S: it ends (`disconnect`)
        when that connection's client was last heard, and the caller closes the connection.
        None when this node does not hold it, or its connection was heard just now."""
        seat = self._seat_of_session.get(session_id)
        if seat is None:
            return None
        heard = last_heard(seat.connection_id)
        if (self._clock() - heard).total_seconds() < HOLDER_SILENT_S:
            return None
        return await self._take(seat, session_id, lambda: heard, ExitReason.DISCONNECT)

    async def _take(
        self, seat: _Seat, session_id: str, at: Callable[[], datetime], reason: ExitReason
    ) -> tuple[str, ExitOutcome] | None:
        """End the seat's session `session_id`, if it still holds it, leaving the seat empty."""
        async with seat.lock:
            current = seat.current
            if current is None or current.session_id != session_id:
                return None
            outcome = await self.record_exit(current, at(), reason)
            seat.current = None
            return seat.connection_id, outcome

    async def close_all(self, reason: ExitReason) -> list[ExitOutcome]:
        """End every open session of this process (graceful shutdown)."""
        outcomes = []
        for connection_id in list(self._seats):
            with contextlib.suppress(NotJoined):
                async with self.seat(connection_id) as seat:
                    outcome = await seat.disconnect(self._clock(), reason)
                    if outcome is not None:
                        outcomes.append(outcome)
        return outcomes

    async def _join(
        self,
        seat: _Seat,
        breakout_id: str,
        session_type: SessionType,
        resume_id: str | None,
        last_heard: LastHeard,
    ) -> JoinOutcome:
        current = seat.current
        if current is not None and current.breakout_id == breakout_id:
            return JoinOutcome(session=current, count=await self._count(current.place))
        require_unexpired(seat.identity, self._clock())
        # Checked before the lookup too: a role that may not join must not auto-create either.
        require_role(seat.identity, JOINERS, JOIN)
        breakout = await self._breakouts.get_or_create(breakout_id, seat.identity)
        require_can_join(seat.identity, breakout)
        if breakout.ended_at is not None:
            raise NotFound(f"breakout {breakout_id} has ended")
        switched_from = None
        if current is not None:
            switched_from = await self.record_exit(current, self._clock(), ExitReason.SWITCHED)
            seat.current = None
        resumed, released = None, None
        if resume_id is not None:
            claim = Resume(
                breakout.org_id,
                breakout.id,
                seat.identity.user_id,
                resume_id,
                session_type,
                self._clock(),
                self._reconnect_grace_s,
                self._node_id,
            )
            resumed, released = await self._resume(seat, claim, breakout.place, last_heard)
        session = resumed or await self._open(seat, breakout, session_type)
        seat.current = session
        self._seat_of_session[session.session_id] = seat
        added = await self._presence.add(breakout.place, Viewer.of(session))
        return JoinOutcome(
            session=session,
            count=added.count,
            switched_from=switched_from,
            over_device_limit=self._over_device_limit(breakout, session, added.user_sessions),
            resumed=resumed is not None,
            released=released,
            was_away=resumed is not None and not added.new,
        )

    async def _open(
        self, seat: _Seat, breakout: Breakout, session_type: SessionType
    ) -> AttendanceSession:
        """A new session of the seat's user in the breakout, durable."""
        session = AttendanceSession(
            user_id=seat.identity.user_id,
            breakout_id=breakout.id,
            session_id=new_session_id(),
            session_type=session_type,
            entry_ts=self._clock(),
            user_name=seat.identity.name,
            org_id=breakout.org_id,
            client=seat.client,
            node_id=self._node_id,
        )
        try:
            await self._writer.open_session(session)
        except NotFound:  # it ended on another node, after this one last read it
            self._breakouts.forget(breakout.org_id, breakout.id)
            raise
        if self._metrics is not None:
            self._metrics.joins.inc()
        return session

    async def _resume(
        self, seat: _Seat, claim: Resume, place: str, last_heard: LastHeard
    ) -> tuple[AttendanceSession | None, tuple[str, ExitOutcome] | None]:
        """The session `claim` names, opened again on this seat; None when it may not be.

        A session still open is held by a connection its client has left (the client is back,
        with the session's id, which only its own acks carried), though its server has not
        noticed yet: on this node it is let go at once, on another node that node is asked to,
        and one whose node stopped beating ends at that node's last beat, as the node's reaper
        would end it. Each ends it when last heard; then it is resumed. Returns, too, the
        connection of this node that was let go.
        """
        released = None
        asked = False
        pause = RESUME_POLL_S
        deadline = time.monotonic() + self._resume_wait_s
        while True:
            claim = dataclasses.replace(claim, at=self._clock())
            session = await self._writer.resume(claim)
            if session is not None:
                if self._metrics is not None:
                    self._metrics.resumes.inc()
                return session, released
            holder = await self._writer.holder(claim)
            if holder is None or not holder[0] or time.monotonic() > deadline:
                return None, released  # none such, ended otherwise or too long ago, or kept
            node_id = holder[1]
            here = self._seat_of_session.get(claim.session_id)
            if here is not None and here is not seat:
                let_go = await self.release(claim.session_id, last_heard)
                if let_go is None:
                    return None, released  # another connection of its client holds it now
                released = let_go
                continue
            if node_id is not None and node_id != self._node_id and self.holders is not None:
                silent = await self.holders.silent_since(node_id)
                if silent is not None:
                    await self._writer.record_exit(
                        SessionExit(
                            claim.user_id,
                            claim.breakout_id,
                            claim.session_id,
                            silent,
                            ExitReason.NODE_LOST,
                            node_id,
                        )
                    )
                    continue
                if not asked:
                    await self.holders.release(place, claim.session_id)
                    asked = True
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(2 * pause, RESUME_POLL_MAX_S)

    def _over_device_limit(
        self, breakout: Breakout, session: AttendanceSession, user_sessions: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The user's oldest other sessions beyond the breakout's device limit."""
        limit = self._device_limit if breakout.device_limit is None else breakout.device_limit
        if limit == 0:
            return ()
        others = [session_id for session_id in user_sessions if session_id != session.session_id]
        return tuple(others[: max(0, len(others) + 1 - limit)])

    async def _leave(self, seat: _Seat, breakout_id: str) -> ExitOutcome:
        current = seat.current
        if current is None or current.breakout_id != breakout_id:
            raise NotJoined(f"this connection is not in breakout {breakout_id}")
        outcome = await self.record_exit(current, self._clock(), ExitReason.LEAVE)
        seat.current = None
        return outcome

    async def _disconnect(
        self,
        connection_id: str,
        seat: _Seat,
        at: datetime,
        reason: ExitReason,
        said_goodbye: bool,
    ) -> ExitOutcome | None:
        self._seats.pop(connection_id, None)
        current, seat.current = seat.current, None
        if current is None:
            return None
        try:
            return await self.record_exit(current, at, reason, said_goodbye=said_goodbye)
        except Unavailable:
            logger.error(
                "exit of session %s (%s) not recorded: database unavailable",
                current.session_id,
                reason,
            )
            await self._presence.remove(current.place, current.user_id, current.session_id)
            return None


class Seat:
    """One connection's place at the desk, used inside `async with` (which holds its lock)."""

    def __init__(self, desk: Attendance, connection_id: str, seat: _Seat) -> None:
        self._desk = desk
        self._connection_id = connection_id
        self._seat = seat

    async def __aenter__(self) -> Seat:
        await self._seat.lock.acquire()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._seat.lock.release()

    @property
    def identity(self) -> Identity:
        return self._seat.identity

    @property
    def current(self) -> AttendanceSession | None:
        return self._seat.current

    async def join(
        self,
        breakout_id: str,
        session_type: SessionType,
        *,
        resume_id: str | None = None,
        last_heard: LastHeard | None = None,
    ) -> JoinOutcome:
        """Open a session (after closing the current one, reason `switched`), or go on with
        the earlier one `resume_id` names when it may be resumed; joining the breakout the
        connection is already in returns its open session."""
        return await self._desk._join(
            self._seat,
            breakout_id,
            session_type,
            resume_id,
            last_heard or (lambda _connection_id: self._desk._clock()),
        )

    async def leave(self, breakout_id: str) -> ExitOutcome:
        return await self._desk._leave(self._seat, breakout_id)

    async def disconnect(
        self, at: datetime, reason: ExitReason, *, said_goodbye: bool = False
    ) -> ExitOutcome | None:
        """Forget the connection, closing its open session at `at` (when it was last heard).
        A client that `said_goodbye` (closed it on purpose) is not waited for to resume."""
        return await self._desk._disconnect(
            self._connection_id, self._seat, at, reason, said_goodbye
        )
