"""The analyst read path and the probes, over real HTTP."""

from __future__ import annotations

import csv
import io
from typing import Any

import aiohttp
import pytest

from models.domain.records import Role
from tests.support.clients import IPHONE
from tests.support.geo import LONDON_IP
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer, private_postgres


async def attended_breakout(server: RunningServer, connect: Any) -> tuple[str, str]:
    """A breakout where u1 joined from London on an iPhone and left."""
    breakout = new_breakout_id()
    viewer = await connect(server, server.token("u1"), user_agent=IPHONE, forwarded_for=LONDON_IP)
    joined = await viewer.call("join-chat-room", {"breakoutId": breakout})
    await viewer.call("leave-chat-room", {"breakoutId": breakout})
    return breakout, joined["sessionId"]


def bearer(server: RunningServer, role: Role = Role.ANALYST, org: str = "org-a") -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token('reader', role=role, org=org)}"}


async def test_sessions_as_json(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    breakout, session_id = await attended_breakout(server, connect)

    async with http.get(
        f"{server.url}/api/breakouts/{breakout}/sessions", headers=bearer(server)
    ) as response:
        assert response.status == 200
        body = await response.json()

    [row] = body["data"]
    assert row["sessionId"] == session_id and row["userId"] == "u1"
    assert row["userName"] == "Ada Lovelace" and row["breakoutId"] == breakout
    assert row["exitReason"] == "leave" and row["attended"] is True
    assert row["durationSeconds"] >= 0
    assert row["entryTimestamp"].endswith("Z") and row["exitTimestamp"].endswith("Z")
    assert (row["city"], row["region"], row["countryCode"]) == ("London", "England", "GB")
    assert (row["latitude"], row["longitude"]) == (51.5142, -0.0931)
    assert (row["browser"], row["os"], row["deviceType"]) == ("Mobile Safari", "iOS", "mobile")
    assert row["browserVersion"] == "17.1" and row["osVersion"] == "17.1"


@pytest.mark.parametrize("how", ["query", "accept"])
async def test_sessions_as_csv(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession, how: str
) -> None:
    breakout, session_id = await attended_breakout(server, connect)
    url = f"{server.url}/api/breakouts/{breakout}/sessions"
    headers = bearer(server, Role.HOST)
    if how == "query":
        url += "?format=csv"
    else:
        headers["Accept"] = "text/csv"

    async with http.get(url, headers=headers) as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await response.text())))

    assert [r["sessionId"] for r in rows] == [session_id]
    assert rows[0]["attended"] == "true" and rows[0]["countryCode"] == "GB"


async def test_a_name_that_is_a_formula_is_exported_as_text(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    formula = '=HYPERLINK("http://evil.example","Ada")'
    breakout = new_breakout_id()
    viewer = await connect(server, server.token("u1", name=formula))
    await viewer.call("join-chat-room", {"breakoutId": breakout})

    for path in ("sessions", "attendance"):
        async with http.get(
            f"{server.url}/api/breakouts/{breakout}/{path}?format=csv",
            headers=bearer(server, Role.HOST),
        ) as response:
            [row] = list(csv.DictReader(io.StringIO(await response.text())))
        assert row["userName"] == "'" + formula, path


async def test_open_session_is_not_attended(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    breakout = new_breakout_id()
    viewer = await connect(server, server.token("u1"))
    await viewer.call("join-chat-room", {"breakoutId": breakout})

    async with http.get(
        f"{server.url}/api/breakouts/{breakout}/sessions", headers=bearer(server, Role.ADMIN)
    ) as response:
        [row] = (await response.json())["data"]
    assert row["attended"] is False and row["exitTimestamp"] is None
    assert row["durationSeconds"] is None


@pytest.mark.parametrize(
    ("role", "org", "status", "code"),
    [
        (Role.ATTENDEE, "org-a", 403, "forbidden"),
        (Role.ANALYST, "org-b", 404, "not_found"),
        (Role.HOST, "org-b", 404, "not_found"),
    ],
)
async def test_readers_are_checked_for_role_and_org(
    server: RunningServer,
    connect: Any,
    http: aiohttp.ClientSession,
    role: Role,
    org: str,
    status: int,
    code: str,
) -> None:
    breakout, _ = await attended_breakout(server, connect)
    async with http.get(
        f"{server.url}/api/breakouts/{breakout}/sessions", headers=bearer(server, role, org)
    ) as response:
        assert response.status == status
        assert response.content_type == "application/problem+json"
        assert (await response.json())["code"] == code


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dTpw"}]
)
async def test_missing_or_bad_bearer_is_401(
    server: RunningServer, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    async with http.get(f"{server.url}/api/breakouts/b1/sessions", headers=headers) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        body = await response.json()
    assert body["code"] == "unauthorized" and body["status"] == 401


async def test_unknown_breakout_is_404(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.get(
        f"{server.url}/api/breakouts/{new_breakout_id()}/sessions", headers=bearer(server)
    ) as response:
        assert response.status == 404
        assert (await response.json())["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/breakouts/bad%20id/sessions", "breakout_id"),
        ("/api/breakouts/b1/sessions?format=xml", "format"),
    ],
)
async def test_bad_requests_are_422_naming_the_field(
    server: RunningServer, http: aiohttp.ClientSession, path: str, field: str
) -> None:
    async with http.get(f"{server.url}{path}", headers=bearer(server)) as response:
        assert response.status == 422
        body = await response.json()
        assert body["code"] == "validation_failed" and field in body["errors"]


async def test_unknown_route_is_problem_json(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/nope") as response:
        assert response.status == 404
        assert response.content_type == "application/problem+json"


async def test_probes(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/healthz") as response:
        assert response.status == 200 and (await response.json())["status"] == "ok"
    async with http.get(f"{server.url}/readyz") as response:
        assert response.status == 200 and (await response.json())["status"] == "ready"


async def test_readyz_reports_a_lost_database_as_degraded_until_it_returns(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    """Degraded, not down: the node still takes events into its journal (tests/server/
    test_durability.py), and every node shares the database, so none should leave the pool."""
    with private_postgres("attendance-readyz-") as embedded:
        running = embedded.start()
        server = await make_server(database_url=running.url)
        embedded.stop()

        async with http.get(f"{server.url}/readyz") as response:
            assert response.status == 200
            body = await response.json()
            assert (body["status"], body["database"]) == ("degraded", "unreachable")
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200

        embedded.start(running.port)
        async with http.get(f"{server.url}/readyz") as response:
            assert (await response.json())["status"] == "ready"
