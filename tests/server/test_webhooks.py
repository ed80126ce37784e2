"""Webhooks (README "Webhooks") against real servers and PostgreSQL, with receivers on loopback
ports: retried until a 2xx and never after, across a restart, by one node at a time, signed
(checked here as a receiver would), and never to the server's own networks unless allowed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from models.domain.records import Role
from tests.support.api import Api
from tests.support.servers import RunningServer, free_port

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
QUICK = {"webhook_allow_networks": LOOPBACK, "webhook_retry_base_s": 0.2, "webhook_poll_s": 0.05}
EVENTS = ["breakout.ended", "attendance.corrected"]


def signed_by(secret: str, header: str, body: bytes, now: float) -> bool:
    """What a receiver does (README "Webhooks"): recompute the HMAC over "<t>.<raw body>",
    compare in constant time, and refuse a timestamp more than five minutes off."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(now - int(fields["t"])) <= 300
    return fresh and hmac.compare_digest(expected.hexdigest(), fields["v1"])


class Receiver:
    """A webhook receiver on a loopback port: answers 500 to the first `failures` calls, then
    200 after `delay_s`; keeps every call."""

    def __init__(self, port: int, failures: int = 0, delay_s: float = 0.0) -> None:
        self.port, self.failures, self.delay_s = port, failures, delay_s
        self.calls: list[tuple[dict[str, str], bytes, float]] = []
        self.in_flight: dict[str, int] = {}
        self.overlaps = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers.get("Idempotency-Key", "")
        self.calls.append((dict(request.headers), body, time.time()))
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.overlaps += self.in_flight[key] > 1
        try:
            if len(self.calls) <= self.failures:
                return web.Response(status=500, text="not now")
            await asyncio.sleep(self.delay_s)
            return web.Response(status=200, text="ok")
        finally:
            self.in_flight[key] -= 1

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def until(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if await found if isinstance(found, Awaitable) else found:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not in time")


async def _register(api: Api, url: str) -> dict[str, Any]:
    status, made = await api.call("POST", "/api/webhooks", {"url": url, "events": EVENTS})
    assert status == 201, made
    return dict(made["data"])


async def _deliveries(api: Api, endpoint: int) -> list[dict[str, Any]]:
    status, log = await api.call("GET", f"/api/webhooks/{endpoint}/deliveries")
    assert status == 200
    return list(log["data"])


async def test_a_receiver_that_fails_three_times_gets_the_ended_breakouts_report_once(
    http: aiohttp.ClientSession, make_server: Any, connect: Any
) -> None:
    server: RunningServer = await make_server(**QUICK)
    receiver = await Receiver(free_port(), failures=3).start()
    api = Api(http, server, f"org-{secrets.token_hex(4)}")
    try:
        endpoint = await _register(api, receiver.url)
        breakout = f"b-{secrets.token_hex(4)}"
        viewer = await connect(server, server.token("ada", name="Ada", org=api.org))
        assert (await viewer.call("join-chat-room", {"breakoutId": breakout}))["ok"]
        host = api.headers(Role.HOST)
        assert (await api.call("POST", f"/api/breakouts/{breakout}/end", None, host))[0] == 200

        await until(lambda: len(receiver.calls) >= 4)
        await asyncio.sleep(1)  # a 2xx is final: nothing more comes
        assert len(receiver.calls) == 4
        bodies = {body for _, body, _ in receiver.calls}
        keys = {headers["Idempotency-Key"] for headers, _, _ in receiver.calls}
        assert len(bodies) == 1 and len(keys) == 1  # the same delivery, byte for byte
        for headers, body, at in receiver.calls:
            assert signed_by(endpoint["secret"], headers["Attendance-Signature"], body, at)
            assert headers["Attendance-Event"] == "breakout.ended"
            assert not signed_by("another-secret-xxxxxx", headers["Attendance-Signature"], body, at)
        sent = json.loads(bodies.pop())
        assert sent["type"] == "breakout.ended" and sent["id"] == keys.pop()
        _, report = await api.call("GET", f"/api/breakouts/{breakout}/attendance")
        assert sent["data"] == report["data"]  # the report route's shape, final
        [ada] = sent["data"]["users"]
        assert ada["userId"] == "ada" and ada["openSessions"] == 0 and ada["sessions"] == 1

        [delivery] = await _deliveries(api, endpoint["id"])
        assert (delivery["state"], delivery["attempts"], delivery["lastStatus"]) == (
            "delivered",
            4,
            200,
        )

        status, made = await api.call(
            "POST",
            f"/api/breakouts/{breakout}/corrections",
            {"userId": "bob", "kind": "present", "reason": "excused"},
        )
        await until(lambda: len(receiver.calls) == 5)
        corrected = json.loads(receiver.calls[-1][1])
        assert corrected["type"] == "attendance.corrected"
        assert corrected["data"]["action"] == "made"
        assert corrected["data"]["correction"]["id"] == made["data"]["id"]

        assert (await api.call("DELETE", f"/api/webhooks/{endpoint['id']}"))[0] == 204
        assert (await api.call("GET", "/api/webhooks"))[1]["data"] == []
    finally:
        await receiver.stop()


async def test_a_receiver_down_across_a_server_restart_still_gets_its_delivery(
    http: aiohttp.ClientSession, make_server: Any, held_breakout_in: Any
) -> None:
    first: RunningServer = await make_server(**QUICK)
    port = free_port()  # nothing listens there yet
    org, breakout = await held_breakout_in(first)
    api = Api(http, first, org)
    endpoint = await _register(api, f"http://127.0.0.1:{port}/hook")
    status, made = await api.call(
        "POST",
        f"/api/breakouts/{breakout}/corrections",
        {"userId": "u2", "kind": "present", "reason": "technical_problem"},
    )
    assert status == 201

    async def failed_twice() -> bool:
        [delivery] = await _deliveries(api, endpoint["id"])
        return bool(delivery["attempts"] >= 2 and delivery["state"] == "pending")

    await until(failed_twice)
    [delivery] = await _deliveries(api, endpoint["id"])
    assert delivery["lastStatus"] is None and delivery["lastError"]
    await first.stop()

    receiver = await Receiver(port).start()
    try:
        second: RunningServer = await make_server(**QUICK)
        api = Api(http, second, org)
        await until(lambda: len(receiver.calls) >= 1)
        await asyncio.sleep(0.5)
        assert len(receiver.calls) == 1
        sent = json.loads(receiver.calls[0][1])
        assert sent["data"]["correction"]["id"] == made["data"]["id"]
        [delivery] = await _deliveries(api, endpoint["id"])
        assert delivery["state"] == "delivered" and delivery["attempts"] >= 3
        await api.call("DELETE", f"/api/webhooks/{endpoint['id']}")
    finally:
        await receiver.stop()


async def test_two_nodes_never_send_one_delivery_twice(
    http: aiohttp.ClientSession, make_server: Any, held_breakout_in: Any
) -> None:
    nodes = [await make_server(**QUICK), await make_server(**QUICK)]
    receiver = await Receiver(free_port(), delay_s=0.3).start()
    org, breakout = await held_breakout_in(nodes[0])
    api = Api(http, nodes[0], org)
    try:
        endpoint = await _register(api, receiver.url)
        for number in range(15):
            node_api = Api(http, nodes[number % 2], org)
            status, _ = await node_api.call(
                "POST",
                f"/api/breakouts/{breakout}/corrections",
                {"userId": f"u{number}", "kind": "present", "reason": "excused"},
            )
            assert status == 201
        await until(lambda: len(receiver.calls) >= 15)
        await asyncio.sleep(1)
        keys = [headers["Idempotency-Key"] for headers, _, _ in receiver.calls]
        assert len(keys) == 15 and len(set(keys)) == 15 and receiver.overlaps == 0
        log = await _deliveries(api, endpoint["id"])
        assert [d["state"] for d in log] == ["delivered"] * 15
        await api.call("DELETE", f"/api/webhooks/{endpoint['id']}")
    finally:
        await receiver.stop()


async def test_only_admins_register_and_only_public_http_urls(
    http: aiohttp.ClientSession, server: RunningServer
) -> None:
    api = Api(http, server, f"org-{secrets.token_hex(4)}")
    good = {"url": "http://127.0.0.1:9/hook", "events": EVENTS}
    status, _ = await api.call("POST", "/api/webhooks", good, api.headers(Role.HOST))
    assert status == 403
    assert (await api.call("GET", "/api/webhooks", headers=api.headers(Role.ANALYST)))[0] == 403
    for url in (
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://0.0.0.0/hook",
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "http://user:pass@example.org/hook",
        "http:///nohost",
        "http://example.org:99999/hook",
    ):
        status, problem = await api.call("POST", "/api/webhooks", good | {"url": url})
        assert status == 422 and "url" in problem["errors"], (url, problem)
    for body in (
        {"url": "http://127.0.0.1/hook"},
        good | {"events": ["breakout.started"]},
        good | {"events": []},
        good | {"secret": "short"},
    ):
        status, problem = await api.call("POST", "/api/webhooks", body)
        assert status == 422, body
    assert (await api.call("GET", "/api/webhooks"))[1]["data"] == []
    assert (await api.call("DELETE", "/api/webhooks/999999999"))[0] == 404
    assert (await api.call("GET", "/api/webhooks/abc/deliveries"))[0] == 404
