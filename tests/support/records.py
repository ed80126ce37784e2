"""Records the model tests make: sessions and breakout ids."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from models.domain.records import AttendanceSession, ClientInfo, SessionType, now_ms


def sample_session(breakout_id: str, number: int, **changes: Any) -> AttendanceSession:
    """Session s<number> of user u<number>, live, opened now from London; `changes` replace
    fields."""
    session = AttendanceSession(
        user_id=f"u{number}",
        breakout_id=breakout_id,
        session_id=f"s{number}",
        session_type=SessionType.LIVE,
        entry_ts=now_ms(),
        user_name=f"User {number}",
        org_id="org-a",
        client=ClientInfo(city="London", ip="81.2.69.0"),
    )
    return dataclasses.replace(session, **changes) if changes else session


def new_breakout_id() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"
