"""A client of the HTTP API for the tests: calls with a role's token, creates schools and users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp

from models.domain.records import Role
from tests.support.openapi import check_answer
from tests.support.servers import RunningServer


async def _checked(method: str, response: aiohttp.ClientResponse) -> None:
    """Every answer the tests get through Api fits the OpenAPI document."""
    body = await response.read()
    check_answer(method, str(response.url), response.status, body, response.content_type)


class Api:
    def __init__(self, http: aiohttp.ClientSession, server: RunningServer, org: str) -> None:
        self.http, self.server, self.org = http, server, org
        self.admin = self.headers(Role.ADMIN)

    def headers(self, role: Role, user: str = "staff", org: str | None = None) -> dict[str, str]:
        token = self.server.token(user, role=role, org=org or self.org)
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with self.http.request(
            method,
            self.server.url + path,
            json=body,
            headers=self.admin if headers is None else headers,
        ) as response:
            await _checked(method, response)
            if response.status == 204:
                return 204, None
            return response.status, await response.json(content_type=None)

    async def school(self, **fields: Any) -> str:
        status, body = await self.call("POST", "/api/schools", {"name": "Hill School"} | fields)
        assert status == 201, body
        return str(body["data"]["id"])

    async def user(self, school_id: str, **fields: Any) -> str:
        body = {"school_id": school_id, "name": "Ada"} | fields
        status, created = await self.call("POST", "/api/users", body)
        assert status == 201, created
        return str(created["data"]["id"])

    async def check(
        self, kind: str, user: str, school: str, at: datetime | None = None, temp: float = 36.6
    ) -> tuple[int, Any]:
        body: dict[str, Any] = {
            "user_id": user,
            "school_id": school,
            "type": kind,
            "temperature": temp,
        }
        if at is not None:
            body["timestamp"] = at.isoformat()
        return await self.call("POST", "/api/attendances", body)

    async def upload(
        self, path: str, text: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """POST a CSV body."""
        async with self.http.post(
            self.server.url + path,
            data=text.encode(),
            headers={"Content-Type": "text/csv"} | (self.admin if headers is None else headers),
        ) as response:
            await _checked("POST", response)
            return response.status, await response.json(content_type=None)

    async def text(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        async with self.http.get(
            self.server.url + path, headers=self.admin if headers is None else headers
        ) as response:
            await _checked("GET", response)
            return response.status, await response.text()
