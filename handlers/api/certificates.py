"""Attendance certificates over HTTP (README "Certificates"): a user's certificate of a
breakout (for them and the org's analysts, hosts and admins), and for anyone who holds its id:
the certificate, its status, and the public keys that verify it."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.formats import data_response
from handlers.http.validation import path_id, read_query
from handlers.keys import CERTIFICATES, SETTINGS
from handlers.wire.records import Json
from models.domain.fields import iso_ms
from models.domain.records import now_ms
from models.evidence.signing import TYPE, payload_of
from models.store.certificates import StoredCertificate

JWS_MEDIA_TYPE = f"application/{TYPE}"


def status_json(certificate: StoredCertificate) -> Json:
    return {
        "id": certificate.id,
        "status": certificate.status,
        "issuedAt": iso_ms(certificate.issued_at),
        "supersededBy": certificate.superseded_by,
        "revokedAt": iso_ms(certificate.revoked_at),
        "revokedReason": certificate.revoked_reason,
    }


def _links(request: web.Request, certificate_id: str) -> Json:
    base = request.app[SETTINGS].own_url
    return {
        "status": f"{base}/api/certificates/{certificate_id}/status",
        "view": f"{base}/certificates/{certificate_id}",
        "jwks": f"{base}/.well-known/jwks.json",
    }


def _answer(request: web.Request, certificate: StoredCertificate) -> web.Response:
    """The certificate as JSON (`?format=jws` or `Accept: application/vc+jwt`: the bare JWS)."""
    chosen = read_query(request, lambda q: q.choice("format", {"json", "jws"}))
    if chosen == "jws" or (chosen is None and JWS_MEDIA_TYPE in request.headers.get("Accept", "")):
        return web.Response(
            text=certificate.jws,
            content_type=JWS_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{certificate.id}.jwt"'},
        )
    body = status_json(certificate) | {
        "jws": certificate.jws,
        "credential": payload_of(certificate.jws),
        "links": _links(request, certificate.id),
    }
    return data_response(body)


async def breakout_certificate(request: web.Request) -> web.Response:
    certificate = await request.app[CERTIFICATES].issue(
        bearer_identity(request),
        path_id(request, "breakout_id"),
        path_id(request, "user_id"),
        now_ms(),
    )
    return _answer(request, certificate)


async def school_certificate(request: web.Request) -> web.Response:
    first, last = read_query(
        request, lambda q: (q.day("from", required=True), q.day("to", required=True))
    )
    certificate = await request.app[CERTIFICATES].issue_school(
        bearer_identity(request),
        path_id(request, "id"),
        path_id(request, "user_id"),
        (first or date.min, last or date.min),
        now_ms(),
    )
    return _answer(request, certificate)


async def certificate(request: web.Request) -> web.Response:
    return _answer(request, await request.app[CERTIFICATES].get(request.match_info["id"]))


async def certificate_status(request: web.Request) -> web.Response:
    found = await request.app[CERTIFICATES].get(request.match_info["id"])
    response = data_response(status_json(found))
    response.headers["Cache-Control"] = "no-cache"  # a status changes
    return response


async def jwks(request: web.Request) -> web.Response:
    keys = await request.app[CERTIFICATES].public_keys()
    return web.json_response({"keys": keys}, headers={"Cache-Control": "max-age=300"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/breakouts/{breakout_id}/certificates/{user_id}", breakout_certificate)
    app.router.add_get("/api/schools/{id}/certificates/{user_id}", school_certificate)
    app.router.add_get("/api/certificates/{id}", certificate)
    app.router.add_get("/api/certificates/{id}/status", certificate_status)
    app.router.add_get("/.well-known/jwks.json", jwks)
