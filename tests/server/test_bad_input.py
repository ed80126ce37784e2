"""Bad input from outside gets a clear 4xx answer with a stable code, never a 500, and leaves no
ERROR traceback in the log (issue 13, D11 and C10)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
import pytest

from models.domain.records import Role
from tests.server.test_security import refusal_of
from tests.support.servers import TEST_SECRET, RunningServer


def bearer(server: RunningServer, role: Role = Role.ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token('staff', role=role)}"}


def forged(**claims: Any) -> str:
    """A validly signed token with the claims given over the usual ones."""
    body = {"sub": "u1", "name": "Ada", "org": "org-a", "role": "attendee"}
    body["exp"] = int(datetime.now(UTC).timestamp()) + 3600
    return jwt.encode(body | claims, TEST_SECRET, algorithm="HS256")


def no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/api/breakouts/b1/attendance?limit=%C2%B2", None, "limit"),  # ²
        ("GET", "/api/attendances?cursor=%C2%B2", None, "cursor"),
        ("GET", "/api/attendances?cursor=12345678901234567890", None, "cursor"),
        ("GET", "/api/attendances?school_id=a%00b", None, "school_id"),
        ("GET", "/api/attendances?from=0001-01-01T00:00:00%2B14:00", None, "from"),
        ("GET", "/api/attendances/aggregate/school/s1?from=2026-01-01&to=9999-12-31", None, "to"),
        ("GET", "/api/schools/a%00b", None, "id"),
        ("POST", "/api/schools", {"name": "Hill\u0000School"}, "name"),
        ("POST", "/api/schools", {"name": "\ud800"}, "name"),
        ("POST", "/api/users", {"school_id": "s1", "name": "Ada", "email": "a\u0000@b.c"}, "email"),
        ("PUT", "/api/breakouts/b-bad-1", {"name": "Maths\u0000"}, "name"),
        ("PUT", "/api/breakouts/b-bad-2", {"startsAt": "0001-01-01T00:00:00Z"}, "startsAt"),
        ("PUT", "/api/breakouts/b-bad-3", {"endsAt": "9999-12-31T23:59:59Z"}, "endsAt"),
    ],
)
async def test_bad_fields_are_422_naming_them(
    server: RunningServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: Any,
    field: str,
) -> None:
    data = None if body is None else json.dumps(body)  # lone surrogates, escaped
    async with http.request(
        method, server.url + path, data=data, headers=bearer(server)
    ) as response:
        answer = await response.json(content_type=None)
    assert response.status == 422, answer
    assert answer["code"] == "validation_failed" and field in answer["errors"], answer
    no_error_logged(caplog)


async def test_json_nested_ten_thousand_deep_is_422(
    server: RunningServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    async with http.post(
        f"{server.url}/api/schools", data=deep, headers=bearer(server)
    ) as response:
        assert response.status == 422
        assert (await response.json(content_type=None))["errors"] == {
            "body": "is nested too deeply"
        }
    no_error_logged(caplog)


async def test_an_event_id_of_superscript_digits_is_not_found(
    server: RunningServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async with http.get(f"{server.url}/api/attendances/%C2%B2", headers=bearer(server)) as r:
        assert r.status == 404
    no_error_logged(caplog)


@pytest.mark.parametrize(
    "token",
    [forged(exp=10**20), forged(name="Ada\u0000"), forged(name="\ud800")],
    ids=["exp-1e20", "name-with-nul", "name-lone-surrogate"],
)
async def test_tokens_no_datetime_or_database_can_hold_are_refused_at_once(
    server: RunningServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    token: str,
) -> None:
    async with http.get(
        f"{server.url}/api/breakouts/b1/sessions", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 401
    refusal = await refusal_of(server, auth={"token": token})
    assert refusal["data"]["code"] == "unauthorized"
    no_error_logged(caplog)


async def raw_request(server: RunningServer, header: bytes) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /api/breakouts/b1/sessions HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(200), 5)
    writer.close()
    return answer


@pytest.mark.parametrize(
    "header",
    [
        b"Authorization: Bearer abc\x01SECRET-IN-HEADER",
        b"Authorization: Bearer \xff\xfeSECRET-IN-HEADER",
    ],
    ids=["control-character", "not-utf-8"],
)
async def test_a_malformed_authorization_header_is_refused_and_never_logged(
    server: RunningServer, caplog: pytest.LogCaptureFixture, header: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await raw_request(server, header)
    assert answer.split(b" ")[1] in {b"400", b"401"}
    assert "SECRET-IN-HEADER" not in caplog.text
    no_error_logged(caplog)


async def test_tokens_and_engine_io_sids_in_urls_are_redacted_in_the_access_log(
    server: RunningServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    url = f"{server.url}/api/breakouts/b1/sessions?token=TOKEN-IN-URL&sid=SID-IN-URL&format=json"
    async with http.get(url) as response:
        assert response.status == 401
    await asyncio.sleep(0.1)
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("token=[redacted]" in line and "sid=[redacted]" in line for line in access)
    assert "TOKEN-IN-URL" not in caplog.text and "SID-IN-URL" not in caplog.text
