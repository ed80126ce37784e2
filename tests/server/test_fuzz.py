"""Property-based fuzzing of every Socket.IO event, HTTP route and raw frame of a live server.

Hypothesis drives synchronous tests; the server and the clients run on one event loop of this
module, which runs while each example is sent and checked.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import load_settings
from handlers.keys import SIO
from handlers.socket.audience import AudienceNamespace
from models.auth.tokens import TokenAuthority
from models.domain.records import Role
from server import create_app
from tests.support.clients import RawSocket
from tests.support.records import new_breakout_id
from tests.support.servers import TEST_SECRET, free_port

ERROR_CODES = {
    "invalid_payload",
    "unauthorized",
    "forbidden",
    "not_found",
    "not_joined",
    "rate_limited",
    "unavailable",
}
EVENTS = ["join-chat-room", "leave-chat-room", "watch-breakout", "unwatch-breakout", "message"]
FUZZ = settings(
    # 300 each in CI; FUZZ_EXAMPLES=5000 for a deeper run by hand.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=20), children, max_size=8)
    ),
    max_leaves=40,
)
breakout_like = st.fixed_dictionaries(
    {"breakoutId": json_values | st.text(max_size=3000) | st.sampled_from(["b-1", "", " "])},
    optional={"type": json_values | st.sampled_from(["live", "on_demand", "LIVE"])},
)
payloads = breakout_like | json_values


@dataclass
class Target:
    loop: asyncio.AbstractEventLoop
    url: str
    app: web.Application
    raw: RawSocket
    token: str
    witness_session: dict[str, Any]
    witness_exit: dict[str, Any]

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, 30))

    async def socket(self, *, fresh: bool = False) -> RawSocket:
        """The fuzzing socket, reconnected if the last case made the server close it."""
        if fresh or self.raw.ws.closed:
            await self.raw.close()
            self.raw = await RawSocket.connect(self.url, self.token)
        return self.raw

    async def send(self, *frames: str | bytes) -> None:
        """Send on the fuzzing socket. A frame that is not Engine.IO makes the server close the
        connection; nothing reads this one, so that shows when the next case writes to it:
        that case then goes out on a new connection."""
        for attempt in (1, 2):
            raw = await self.socket(fresh=attempt == 2)
            try:
                for frame in frames:
                    await (raw.ws.send_str if isinstance(frame, str) else raw.ws.send_bytes)(frame)
                return
            except ConnectionResetError:
                if attempt == 2:
                    raise

    async def healthy(self) -> None:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/healthz") as response:
            assert response.status == 200


@pytest.fixture(scope="module")
def target(
    postgres_url: str, city_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    loop = asyncio.new_event_loop()
    port = free_port()
    app = create_app(
        load_settings({}).with_overrides(
            database_url=postgres_url,
            var_dir=tmp_path_factory.mktemp("fuzz-var"),
            auth_secret=TEST_SECRET,
            geoip_db=city_db,
            port=port,
            event_rate_per_s=1e6,  # fuzz the handlers, not the rate limiter
            event_burst=1_000_000,
        )
    )
    runner = web.AppRunner(app, handle_signals=False)
    url = f"http://127.0.0.1:{port}"
    token = TokenAuthority(secret=TEST_SECRET).mint(
        user_id="fuzzer", name="Fuzz", org_id="org-a", role=Role.ADMIN, ttl_s=3600
    )

    async def start() -> Target:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        witness = await RawSocket.connect(url, token)
        joined = await witness.call("join-chat-room", {"breakoutId": new_breakout_id()})
        left = await witness.call("leave-chat-room", {"breakoutId": joined["breakoutId"]})
        await witness.close()
        raw = await RawSocket.connect(url, token)
        return Target(loop, url, app, raw, token, joined, left)

    fuzz_target = loop.run_until_complete(start())
    yield fuzz_target
    loop.run_until_complete(fuzz_target.raw.close())
    loop.run_until_complete(runner.cleanup())
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:  # gather() of nothing would make a future on another loop
        loop.run_until_complete(asyncio.wait(pending))
    loop.close()


def assert_is_an_ack(ack: Any) -> None:
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
    if not ack["ok"]:
        assert ack["error"]["code"] in ERROR_CODES and isinstance(ack["error"]["message"], str)
        assert "Traceback" not in ack["error"]["message"]


@FUZZ
@given(event=st.sampled_from(EVENTS) | st.text(max_size=80), args=st.lists(payloads, max_size=3))
def test_any_event_with_any_payload_gets_an_ack(
    target: Target, event: str, args: list[Any]
) -> None:
    async def case() -> None:
        raw = await target.socket()
        raw._ack_id += 1
        ack_prefix = f"43{raw._ack_id}"
        await raw.ws.send_str(f"42{raw._ack_id}" + json.dumps([event, *args]))
        while True:
            frame = await raw.receive()
            if frame == "2":
                await raw.ws.send_str("3")
            elif frame.startswith(ack_prefix):
                break
        answer = json.loads(frame[len(ack_prefix) :])
        assert len(answer) == 1
        assert_is_an_ack(answer[0])

    target.run(case())


@FUZZ
@given(
    frame=st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda prefix, rest: prefix + rest,
            st.sampled_from(
                [
                    "0",
                    "1",
                    "2",
                    "3",
                    "4",
                    "5",
                    "6",
                    "40",
                    "41",
                    "42",
                    "43",
                    "44",
                    "45",
                    "46",
                    "421",
                    "42/",
                    "42/x,",
                    "451-",
                    "4[",
                    "42[[[[",
                ]
            ),
            st.text(max_size=200) | json_values.map(json.dumps),
        ),
        st.just("42" + "[" * 5000 + "]" * 5000),
        st.just('42["join-chat-room",' + '{"a":' * 3000 + "1" + "}" * 3000 + "]"),
    ),
    binary=st.none() | st.binary(max_size=200),
)
def test_malformed_frames_do_not_hurt_the_server(
    target: Target, frame: str, binary: bytes | None
) -> None:
    async def case() -> None:
        await target.send(frame, *([binary] if binary is not None else []))
        await target.healthy()

    target.run(case())


@FUZZ
@given(
    path=st.text(alphabet=st.characters(codec="ascii", exclude_characters="?#/"), max_size=200),
    query=st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=4),
    authorization=st.none() | st.text(max_size=300) | st.just("Bearer "),
    accept=st.none() | st.sampled_from(["text/csv", "*/*", "application/json", "x/\x7f"]),
)
def test_http_routes_answer_problems_not_crashes(
    target: Target,
    path: str,
    query: dict[str, str],
    authorization: str | None,
    accept: str | None,
) -> None:
    headers = {}
    if authorization is not None and authorization.isprintable():
        headers["Authorization"] = authorization
    if accept is not None and accept.isprintable():
        headers["Accept"] = accept

    async def case() -> None:
        async with aiohttp.ClientSession() as http:
            for route in (f"/api/breakouts/{path}/sessions", f"/{path}", "/readyz"):
                async with http.get(target.url + route, params=query, headers=headers) as response:
                    assert response.status < 500, (route, response.status)
                    if response.status >= 400:
                        body = await response.json(content_type=None)
                        assert body["status"] == response.status and "code" in body
        await target.healthy()

    target.run(case())


def test_after_the_fuzzing_nothing_stored_changed_and_nothing_leaked(target: Target) -> None:
    async def check() -> None:
        from handlers.keys import ATTENDANCE, POOL

        async with target.app[POOL].acquire() as connection:
            row = await connection.fetchrow(
                "SELECT exit_reason, exit_ts FROM attendance_sessions WHERE session_id = $1",
                target.witness_session["sessionId"],
            )
        assert row is not None and row["exit_reason"] == "leave"
        assert row["exit_ts"] == datetime.fromisoformat(target.witness_exit["exitTimestamp"])
        # Per-connection state is bounded by the open sockets, whatever was thrown at them.
        namespace = target.app[SIO].namespace_handlers["/"]
        assert isinstance(namespace, AudienceNamespace)
        assert target.app[ATTENDANCE].connections <= 1
        assert len(namespace._event_limits) <= 1

    target.run(check())
