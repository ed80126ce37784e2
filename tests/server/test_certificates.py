"""Signed attendance certificates (README "Certificates") against the real server and PostgreSQL,
verified with joserfc (not the server's JOSE code), by `run.py verify`, and by people (the
printable page); a correction supersedes or revokes one, a rotated key stays listed."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import sys
import warnings
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import BadSignatureError, SecurityWarning
from joserfc.jwk import KeySet

from models.domain.records import Role
from tests.support.api import Api
from tests.support.servers import RunningServer

ROOT = Path(__file__).resolve().parents[2]


async def _keys(http: aiohttp.ClientSession, server: RunningServer) -> dict[str, Any]:
    async with http.get(f"{server.url}/.well-known/jwks.json") as response:
        assert response.status == 200 and "max-age" in response.headers["Cache-Control"]
        found: dict[str, Any] = await response.json()
    return found


def _independently_verified(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The payload, as a JOSE library other than the server's verifies it. (joserfc warns that
    RFC 9864 prefers the name `Ed25519` to `EdDSA`; the server signs with `EdDSA`, the name every
    JOSE library knows: README "Certificates".)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        keys = KeySet.import_key_set(jwks)
        verified = jws.deserialize_compact(token, keys, algorithms=["EdDSA"])
    payload: dict[str, Any] = json.loads(verified.payload)
    return payload


def _tampered(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document["credentialSubject"]["attendance"].update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def _run_verify(tmp_path: Path, token: str, *args: str) -> tuple[int, str]:
    file = tmp_path / "certificate.jwt"
    file.write_text(token)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run.py"),
        "verify",
        str(file),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "VAR_DIR": str(tmp_path / "no-var")},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode() + stderr.decode()


async def test_a_present_user_gets_a_certificate_anyone_can_verify(
    http: aiohttp.ClientSession,
    server: RunningServer,
    held_breakout: tuple[str, str],
    tmp_path: Path,
) -> None:
    org, breakout = held_breakout  # u1 attended 40 of 60 minutes (present from 50%)
    api = Api(http, server, org)
    path = f"/api/breakouts/{breakout}/certificates/u1"
    status, body = await api.call("GET", path, headers=api.headers(Role.ATTENDEE, "u1"))
    assert status == 200, body
    issued = body["data"]
    assert issued["status"] == "valid" and issued["supersededBy"] is None
    assert issued["links"]["status"] == f"{server.url}/api/certificates/{issued['id']}/status"

    jwks = await _keys(http, server)
    payload = _independently_verified(issued["jws"], jwks)
    assert payload == issued["credential"]
    assert payload["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert payload["id"] == f"urn:uuid:{issued['id']}" and payload["jti"] == payload["id"]
    assert payload["issuer"]["id"] == payload["iss"] == server.url
    facts = payload["credentialSubject"]["attendance"]
    assert (facts["userId"], facts["userName"], facts["breakoutId"]) == ("u1", "Ada", breakout)
    assert facts["attendedSeconds"] == 2400 and facts["percent"] == pytest.approx(66.67)
    assert facts["present"] is True and facts["correctionsApplied"] == []
    assert facts["rule"]["basis"] == "as-of" and facts["rule"]["breakoutVersion"] == 1
    assert facts["rule"]["minPercent"] == 50
    assert payload["credentialStatus"]["id"] == issued["links"]["status"]

    # The same record: the same certificate. Not present: none. Not theirs: refused.
    assert (await api.call("GET", path))[1]["data"]["id"] == issued["id"]
    status, problem = await api.call("GET", f"/api/breakouts/{breakout}/certificates/u2")
    assert status == 404 and "not present" in problem["detail"]
    status, _ = await api.call("GET", path, headers=api.headers(Role.ATTENDEE, "u2"))
    assert status == 403
    status, _ = await api.call("GET", path, headers=api.headers(Role.ADMIN, org="org-other"))
    assert status == 404

    # Anyone with the id: the certificate, the bare JWS, its status, the printable page.
    async with http.get(f"{server.url}/api/certificates/{issued['id']}?format=jws") as response:
        assert response.status == 200 and response.content_type == "application/vc+jwt"
        assert await response.text() == issued["jws"]
    async with http.get(f"{server.url}/api/certificates/{issued['id']}/status") as response:
        assert (await response.json())["data"]["status"] == "valid"
    async with http.get(f"{server.url}/certificates/{issued['id']}") as response:
        page = await response.text()
        csp = response.headers["Content-Security-Policy"]
    assert response.status == 200 and "<svg" in page and 'id="status">valid' in page
    assert "Ada (u1)" in page and "'nonce-" in csp and "script-src 'self'" in csp
    for probe in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        async with http.get(f"{server.url}/api/certificates/{probe}/status") as response:
            assert response.status == 404

    # Tampered: refused by joserfc and by run.py verify, which says why; the real one passes.
    forged = _tampered(issued["jws"], attendedSeconds=3600, percent=100)
    with pytest.raises(BadSignatureError):
        _independently_verified(forged, jwks)
    jwks_url = f"{server.url}/.well-known/jwks.json"
    code, said = await _run_verify(tmp_path, forged, "--jwks", jwks_url)
    assert code == 1 and "INVALID" in said and "altered" in said
    code, said = await _run_verify(tmp_path, issued["jws"], "--jwks", jwks_url)
    assert code == 0 and said.startswith("VALID") and "Ada (u1) was present" in said
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    code, said = await _run_verify(
        tmp_path, json.dumps(body), "--jwks", str(tmp_path / "jwks.json")
    )
    assert code == 0, said  # the API's JSON answer verifies too
    code, said = await _run_verify(tmp_path, issued["jws"])
    assert code != 0 and "--jwks" in said  # no key here: says where to find one


async def test_a_correction_supersedes_or_revokes_the_certificate(
    http: aiohttp.ClientSession, server: RunningServer, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout
    api = Api(http, server, org)
    host = api.headers(Role.HOST)
    path = f"/api/breakouts/{breakout}/certificates/u1"
    first = (await api.call("GET", path))[1]["data"]
    corrections = f"/api/breakouts/{breakout}/corrections"

    # Ada's phone call after she left adds time: the record changed, so a new certificate.
    stay = {
        "userId": "u1",
        "kind": "stay",
        "reason": "joined_by_phone",
        "from": first["credential"]["credentialSubject"]["attendance"]["lastLeave"],
        "to": first["credential"]["credentialSubject"]["attendance"]["endsAt"],
    }
    status, added = await api.call("POST", corrections, stay, host)
    assert status == 201
    status, old = await api.call("GET", f"/api/certificates/{first['id']}/status")
    assert old["data"]["status"] == "superseded"
    second = (await api.call("GET", path))[1]["data"]
    assert second["id"] == old["data"]["supersededBy"] != first["id"]
    facts = second["credential"]["credentialSubject"]["attendance"]
    assert facts["attendedSeconds"] == 3600 and facts["recordedSeconds"] == 2400
    assert facts["correctionsApplied"] == [added["data"]["id"]]
    _independently_verified(second["jws"], await _keys(http, server))

    # Marked absent: the certificate is revoked and none is issued.
    status, absent = await api.call(
        "POST", corrections, {"userId": "u1", "kind": "absent", "reason": "recorded_in_error"}, host
    )
    _, revoked = await api.call("GET", f"/api/certificates/{second['id']}/status")
    assert revoked["data"]["status"] == "revoked" and revoked["data"]["revokedReason"]
    assert (await api.call("GET", path))[0] == 404
    async with http.get(f"{server.url}/certificates/{second['id']}") as response:
        assert 'id="status">revoked' in await response.text()

    # Withdrawn: present again, a new certificate.
    await api.call("POST", f"/api/corrections/{absent['data']['id']}/withdraw", {"reason": "x"})
    status, third = await api.call("GET", path)
    assert status == 200 and third["data"]["id"] not in (first["id"], second["id"])


async def test_a_rotated_key_stays_listed_and_its_certificates_still_verify(
    http: aiohttp.ClientSession, make_server: Any, tmp_path: Path, held_breakout_in: Any
) -> None:
    keys = []
    for name in ("old", "new"):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        keys.append(path)
    before = await make_server(signing_key_file=keys[0])
    org, breakout = await held_breakout_in(before)
    api = Api(http, before, org)
    old = (await api.call("GET", f"/api/breakouts/{breakout}/certificates/u1"))[1]["data"]

    after = await make_server(signing_key_file=keys[1])
    jwks = await _keys(http, after)
    assert _independently_verified(old["jws"], jwks) == old["credential"]
    kids = [key["kid"] for key in jwks["keys"]]
    assert json.loads(base64.urlsafe_b64decode(old["jws"].split(".")[0] + "=="))["kid"] in kids
    assert all("d" not in key for key in jwks["keys"])  # never a private part


async def test_a_school_period_certificate_follows_the_days_and_their_corrections(
    http: aiohttp.ClientSession, school_server: RunningServer
) -> None:
    api = Api(http, school_server, f"org-{secrets.token_hex(4)}")
    school = await api.school(
        name="Hill School", time_zone="Europe/Madrid", school_days=[1, 2, 3, 4, 5, 6, 7]
    )
    ada, bob = await api.user(school), await api.user(school, name="Bob")
    zone = ZoneInfo("Europe/Madrid")
    first = datetime.now(zone).date() - timedelta(days=6)
    days = [first + timedelta(days=n) for n in range(5)]
    for day in days:  # Ada is in five hours every day; Bob one hour
        for user, hours in ((ada, 5), (bob, 1)):
            at = datetime.combine(day, time(8), tzinfo=zone)
            assert (await api.check("checkin", user, school, at))[0] == 201
            assert (await api.check("checkout", user, school, at + timedelta(hours=hours)))[
                0
            ] == 201
    period = f"from={days[0]}&to={days[-1]}"
    path = f"/api/schools/{school}/certificates/{ada}?{period}"

    status, body = await api.call("GET", path, headers=api.headers(Role.ATTENDEE, ada))
    assert status == 200, body
    issued = body["data"]
    payload = _independently_verified(issued["jws"], await _keys(http, school_server))
    facts = payload["credentialSubject"]["attendance"]
    assert (facts["kind"], facts["schoolName"], facts["userName"]) == (
        "school",
        "Hill School",
        "Ada",
    )
    assert (facts["schoolDays"], facts["presentDays"], facts["percent"]) == (5, 5, 100)
    assert facts["rule"]["basis"] == "as-of" and facts["rule"]["schoolVersion"] == 1
    assert payload["credentialSubject"]["achievement"]["id"].endswith(f"/api/schools/{school}")
    bob_path = f"/api/schools/{school}/certificates/{bob}?{period}"
    status, problem = await api.call("GET", bob_path)
    assert status == 404 and "not present" in problem["detail"]
    assert (await api.call("GET", bob_path, headers=api.headers(Role.ATTENDEE, ada)))[0] == 403
    status, problem = await api.call("GET", f"/api/schools/{school}/certificates/{ada}")
    assert status == 422 and {"from", "to"} <= set(problem["errors"])

    # Marked absent on one day: 4/5 is still 80%, the facts changed: superseded. On a second:
    # 3/5 is short, so the certificate that replaced it is revoked.
    corrections = f"/api/schools/{school}/corrections"
    made = []
    for day in days[:2]:
        mark = {"userId": ada, "day": str(day), "kind": "absent", "reason": "recorded_in_error"}
        status, body = await api.call("POST", corrections, mark)
        assert status == 201
        made.append(body["data"]["id"])
    _, first_status = await api.call("GET", f"/api/certificates/{issued['id']}/status")
    assert first_status["data"]["status"] == "superseded"
    replaced_by = first_status["data"]["supersededBy"]
    _, second_status = await api.call("GET", f"/api/certificates/{replaced_by}/status")
    assert second_status["data"]["status"] == "revoked"
    assert (await api.call("GET", path))[0] == 404

    # One withdrawn: 4/5 is 80%, present again, a new certificate naming the corrected day.
    await api.call("POST", f"/api/corrections/{made[0]}/withdraw", {"reason": "was there"})
    status, body = await api.call("GET", path)
    assert status == 200 and body["data"]["id"] != issued["id"]
    facts = body["data"]["credential"]["credentialSubject"]["attendance"]
    assert (facts["presentDays"], facts["correctedDays"], facts["recordedPresentDays"]) == (
        4,
        1,
        5,
    )
    async with http.get(f"{school_server.url}/certificates/{body['data']['id']}") as response:
        page = await response.text()
    assert "4 of 5 school days (80.0%)" in page and "Hill School" in page
