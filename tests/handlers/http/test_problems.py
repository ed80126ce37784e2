"""Our own faults as problem JSON: a request that ran out of time is a 503 to retry, not a 500."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from handlers.http.problems import PROBLEM_TYPE, problem_middleware


async def _client(handler: Any) -> TestClient[web.Request, web.Application]:
    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/", handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_a_request_out_of_time_is_unavailable_and_one_that_breaks_is_internal() -> None:
    async def slow(request: web.Request) -> web.Response:
        raise TimeoutError

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("bug")

    for handler, status, code in ((slow, 503, "unavailable"), (broken, 500, "internal")):
        client = await _client(handler)
        try:
            response = await client.get("/")
            body = await response.json(content_type=PROBLEM_TYPE)
        finally:
            await client.close()
        assert (response.status, body["code"], body["status"]) == (status, code, status)
