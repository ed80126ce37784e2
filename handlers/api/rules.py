"""The versions of a breakout's presence rule and of a school's thresholds, with the server's
defaults' versions beside them (README "Attendance rules")."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.formats import data_response
from handlers.http.validation import path_id
from handlers.keys import BREAKOUT_REPORTS, SCHOOL_REPORTS
from handlers.wire.records import Json
from models.domain.fields import iso_ms
from models.store.rules import RuleVersion


def _version_json(version: RuleVersion) -> Json:
    return {
        "version": version.version,
        "validFrom": iso_ms(version.valid_from),
        "minMinutes": version.min_minutes,
        "minPercent": version.min_percent,
        "dayMinHours": version.day_min_hours,
        "periodMinPercent": version.period_min_percent,
    }


def _versions_json(own: list[RuleVersion], server: list[RuleVersion]) -> Json:
    return {"own": [_version_json(v) for v in own], "server": [_version_json(v) for v in server]}


async def breakout_rules(request: web.Request) -> web.Response:
    own, server = await request.app[BREAKOUT_REPORTS].rule_versions(
        bearer_identity(request), path_id(request, "breakout_id")
    )
    return data_response(_versions_json(own, server))


async def school_rules(request: web.Request) -> web.Response:
    own, server = await request.app[SCHOOL_REPORTS].rule_versions(
        bearer_identity(request), path_id(request, "id")
    )
    return data_response(_versions_json(own, server))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts/{breakout_id}/rules", breakout_rules)
    app.router.add_get("/api/schools/{id}/rules", school_rules)
