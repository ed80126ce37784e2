"""What viewers' clients report they are doing, in PostgreSQL: one row per change of state,
written in batches with the sessions (README "Engagement" says how time in each state is
counted from them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from models.domain.records import ActivityState
from models.store.database import Connection
from models.store.sessions import SessionKey

# A batch in one statement; a replayed one (the journal after a crash) is a no-op.
WRITE_ACTIVITY = """
INSERT INTO session_activity (org_id, breakout_id, user_id, session_id, at, state)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::text[])
ON CONFLICT (user_id, breakout_id, session_id, at) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class Activity:
    """A session's client changed state at `at` (the server's clock when it heard so)."""

    org_id: str
    breakout_id: str
    user_id: str
    session_id: str
    at: datetime
    state: ActivityState

    @property
    def key(self) -> SessionKey:
        return (self.user_id, self.breakout_id, self.session_id)


async def write_activity(connection: Connection, changes: Sequence[Activity]) -> None:
    await connection.execute(
        WRITE_ACTIVITY,
        [c.org_id for c in changes],
        [c.breakout_id for c in changes],
        [c.user_id for c in changes],
        [c.session_id for c in changes],
        [c.at for c in changes],
        [c.state.value for c in changes],
    )
