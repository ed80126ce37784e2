"""What a webhook event's body holds (README "Webhooks"), in the wire shapes of the routes:
`breakout.ended` the breakout's final attendance report, `attendance.corrected` the correction
and whether it was made or withdrawn."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handlers.api.corrections import correction_json
from handlers.api.reports import attendance_json
from handlers.keys import BREAKOUT_REPORTS, CORRECTIONS
from models.domain.access import system_reader
from models.domain.records import now_ms
from models.store.webhooks import Leased


async def render_event(app: web.Application, event: Leased, must: bool) -> dict[str, Any] | None:
    """The event's data; None while a breakout that ended still has sessions open on some node
    (unless `must`: then the report as it stands)."""
    subject = event.subject
    if event.event == "breakout.ended":
        report = await app[BREAKOUT_REPORTS].breakout_attendance(
            system_reader(event.org_id, "webhooks"), subject["breakoutId"], now_ms(), "", None
        )
        if not must and any(user.open_sessions for user in report.users):
            return None
        return attendance_json(report)
    if event.event == "attendance.corrected":
        found = await app[CORRECTIONS].find(event.org_id, int(subject["correctionId"]))
        correction = None if found is None else correction_json(found)
        return {"action": subject["action"], "correction": correction}
    raise ValueError(f"no body for the event {event.event!r}")
