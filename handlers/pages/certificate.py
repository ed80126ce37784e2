"""A certificate for people (README "Certificates"): a printable page with what it attests, its
status, and a QR code of its own address, where anyone can check it is still valid.

Rendered here, every value escaped; no script, and its one style block is allowed by a nonce."""

from __future__ import annotations

import html
import io
import secrets
from typing import Any

import segno
from aiohttp import web

from handlers.keys import CERTIFICATES, SETTINGS
from handlers.pages.dashboard import PAGE_HEADERS
from models.evidence.signing import payload_of

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; color: #111; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; }
.sheet { border: 3px double #334; padding: 2rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
.status { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; font-weight: 600; }
.valid { background: #dcfce7; color: #14532d; }
.superseded, .revoked { background: #fee2e2; color: #7f1d1d; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: #555; }
.qr { float: right; margin-left: 1rem; }
code, pre { font-size: .75rem; word-break: break-all; white-space: pre-wrap; }
@media print { .noprint { display: none; } .sheet { border: none; } }
"""


def _qr_svg(url: str) -> str:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=3, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def _row(label: str, value: Any) -> str:
    shown = "–" if value is None else str(value)
    return f"<dt>{html.escape(label)}</dt><dd>{html.escape(shown)}</dd>"


def _place_rows(facts: dict[str, Any]) -> tuple[str, ...]:
    """What the certificate says of the place: a breakout's stay, or a school period's days."""
    if facts["kind"] == "school":
        corrected = facts["correctedDays"]
        return (
            _row("School", f"{facts['schoolName']} ({facts['timeZone']})"),
            _row("Period", f"{facts['from']} to {facts['to']}"),
            _row(
                "Present",
                f"{facts['presentDays']} of {facts['schoolDays']} school days "
                f"({facts['percent']}%)",
            ),
            _row("Days decided by a correction", corrected or "none"),
        )
    by_correction = "yes, by a correction (sessions alone: no)"
    return (
        _row("Breakout", facts["breakoutName"] or facts["breakoutId"]),
        _row("Scheduled", f"{facts['startsAt'] or '–'} to {facts['endsAt'] or '–'} (UTC)"),
        _row("First joined", facts["firstJoin"]),
        _row("Last left", facts["lastLeave"]),
        _row("Attended", f"{round(facts['attendedSeconds'] / 60, 1)} minutes"),
        _row("Of the schedule", None if facts["percent"] is None else f"{facts['percent']}%"),
        _row("Present", "yes" if facts["recordedPresent"] else by_correction),
        _row("Corrections applied", ", ".join(map(str, facts["correctionsApplied"])) or "none"),
    )


async def certificate_page(request: web.Request) -> web.Response:
    found = await request.app[CERTIFICATES].get(request.match_info["id"])
    document = payload_of(found.jws)
    facts = document["credentialSubject"]["attendance"]
    base = request.app[SETTINGS].own_url
    here = f"{base}/certificates/{found.id}"
    status = found.status
    if found.superseded_by:
        later = f"/certificates/{html.escape(found.superseded_by)}"
        status_note = f' — see <a href="{later}">the certificate that replaces it</a>'
    elif found.revoked_reason:
        status_note = f" — {html.escape(found.revoked_reason)}"
    else:
        status_note = ""
    rows = "".join(
        (
            _row("Attendee", f"{facts['userName'] or facts['userId']} ({facts['userId']})"),
            *_place_rows(facts),
            _row("Rule", facts["rule"]["text"]),
            _row("Issued by", document["issuer"]["id"]),
            _row("Issued at", document["validFrom"]),
            _row("Certificate", document["id"]),
        )
    )
    nonce = secrets.token_urlsafe(16)
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attendance certificate — {html.escape(document["name"])}</title>
<style nonce="{nonce}">{STYLE}</style></head>
<body><main class="sheet">
<div class="qr" aria-label="QR code of this page's address">{_qr_svg(here)}</div>
<h1>Certificate of attendance</h1>
<p><span class="status {status}" id="status">{status}</span>{status_note}</p>
<dl>{rows}</dl>
<p class="noprint">Check it: this page always shows the certificate's current status. A program
verifies the signed certificate (<a href="/api/certificates/{html.escape(found.id)}?format=jws"
>download it</a>) with the keys at <a href="{html.escape(base)}/.well-known/jwks.json"
>{html.escape(base)}/.well-known/jwks.json</a> (EdDSA, key id
<code>{html.escape(found.kid)}</code>), or with <code>python run.py verify FILE</code>.</p>
</main></body></html>"""
    csp = PAGE_HEADERS["Content-Security-Policy"].replace(
        "style-src 'self'", f"style-src 'self' 'nonce-{nonce}'"
    )
    headers = {**PAGE_HEADERS, "Content-Security-Policy": csp, "Cache-Control": "no-cache"}
    return web.Response(text=body, content_type="text/html", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/certificates/{id}", certificate_page)
