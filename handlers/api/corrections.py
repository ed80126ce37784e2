"""Corrections of the record over HTTP (README "Corrections"): hosts and admins correct a
breakout's attendance, admins a school day; analysts, hosts and admins read the audit log (JSON
a page at a time by id, or CSV); a correction is withdrawn, never deleted."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.bodies import correction_request, withdrawal_reason
from handlers.http.formats import csv_response, data_response
from handlers.http.queries import MAX_PAGE, page_of, wants_csv
from handlers.http.validation import json_body, path_id, path_number, read_query
from handlers.keys import CORRECTIONS
from handlers.wire.records import Json
from models.domain.fields import iso_ms
from models.domain.records import now_ms
from models.store.corrections import Correction, PlaceKind

CORRECTION_FIELDS = (
    "id",
    "placeKind",
    "placeId",
    "userId",
    "day",
    "kind",
    "reason",
    "note",
    "from",
    "to",
    "replaces",
    "madeBy",
    "madeByRole",
    "madeAt",
    "status",
    "supersededBy",
    "withdrawnAt",
    "withdrawnBy",
    "withdrawnReason",
)


def correction_json(correction: Correction) -> Json:
    return dict(
        zip(
            CORRECTION_FIELDS,
            (
                correction.id,
                correction.place_kind.value,
                correction.place_id,
                correction.user_id,
                None if correction.day is None else correction.day.isoformat(),
                correction.kind.value,
                correction.reason.value,
                correction.note,
                iso_ms(correction.stay_from),
                iso_ms(correction.stay_to),
                correction.replaces,
                correction.made_by,
                correction.made_by_role,
                iso_ms(correction.made_at),
                correction.status,
                correction.superseded_by,
                iso_ms(correction.withdrawn_at),
                correction.withdrawn_by,
                correction.withdrawn_reason,
            ),
            strict=True,
        )
    )


async def _correct(request: web.Request, place: tuple[PlaceKind, str]) -> web.Response:
    identity = bearer_identity(request)
    spec = correction_request(await json_body(request), school=place[0] is PlaceKind.SCHOOL)
    made = await request.app[CORRECTIONS].correct(identity, place, spec, now_ms())
    return data_response(correction_json(made), status=201)


async def correct_breakout(request: web.Request) -> web.Response:
    return await _correct(request, (PlaceKind.BREAKOUT, path_id(request, "breakout_id")))


async def correct_school_day(request: web.Request) -> web.Response:
    return await _correct(request, (PlaceKind.SCHOOL, path_id(request, "id")))


async def withdraw(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    correction_id = path_number(request, "correction")
    reason = withdrawal_reason(await json_body(request))
    withdrawn = await request.app[CORRECTIONS].withdraw(identity, correction_id, reason, now_ms())
    return data_response(correction_json(withdrawn))


async def _log(request: web.Request, place: tuple[PlaceKind, str] | None) -> web.Response:
    identity = bearer_identity(request)
    as_csv, page = read_query(
        request, lambda q: (wants_csv(q, request), page_of(q, default=MAX_PAGE, numeric=True))
    )
    after = 0 if as_csv else int(page.cursor or 0)
    found = await request.app[CORRECTIONS].log(
        identity, place, after, None if as_csv else page.limit
    )
    rows = [correction_json(correction) for correction in found]
    if as_csv:
        name = "corrections" if place is None else f"corrections-{place[0]}-{place[1]}"
        return csv_response(rows, CORRECTION_FIELDS, f"{name}.csv")
    full_page = len(found) == page.limit
    return data_response(rows, next_cursor=str(found[-1].id) if full_page else None)


async def org_log(request: web.Request) -> web.Response:
    return await _log(request, None)


async def breakout_log(request: web.Request) -> web.Response:
    return await _log(request, (PlaceKind.BREAKOUT, path_id(request, "breakout_id")))


async def school_log(request: web.Request) -> web.Response:
    return await _log(request, (PlaceKind.SCHOOL, path_id(request, "id")))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/corrections", org_log)
    app.router.add_post("/api/corrections/{id}/withdraw", withdraw)
    app.router.add_get("/api/breakouts/{breakout_id}/corrections", breakout_log)
    app.router.add_post("/api/breakouts/{breakout_id}/corrections", correct_breakout)
    app.router.add_get("/api/schools/{id}/corrections", school_log)
    app.router.add_post("/api/schools/{id}/corrections", correct_school_day)
