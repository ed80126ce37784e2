"""A chaos run of truth: how far is each recorded stay from what really happened?

Two nodes (`run.py serve` processes) share one PostgreSQL and one Redis, all on default ping,
heartbeat and reconnect settings. Clients speak Engine.IO v4 / Socket.IO v5 by hand over
websockets, so they can misbehave, and each plays a scenario:

- `leave`: joins, stays, leaves;             - `close`: joins, stays, closes its connection;
- `freeze`: stops reading and answering, its connection left open (a frozen tab);
- `blip-resume`: its connection drops (cut, no close frame), it reconnects and resumes;
- `blip-new`: the same, but it joins again without resuming (two stays);
- `second-tab`: the same user joins from a second connection (the device limit expels the first);
- `switch`: joins one breakout, then another.

Each client plays them one after another for the whole run; those that freeze do so last.

Midway, node A is killed (`kill -9`): its clients notice, reconnect to node B and resume; later
Redis is stopped and started again, empty. (Frozen clients stay on B: one frozen on a node that
is then killed is recorded at that node's last beat, since the node died with when it last heard
the client.) Every client logs its own truth: each stay's entry
(when its join was acked) and exit (when it sent its leave, closed or cut its connection,
switched, sent its last packet before freezing, was expelled, or its node was killed), and each
gap of a resumed stay. After settling, every stay is matched to its row, and every row to a stay.

    python -m bench.chaos [--clients 500] [--seconds 600]

prints the error distribution per scenario (median, p95, max, in seconds) and writes
bench/results/chaos.{json,md}. The suite runs a short one (tests/server/test_chaos.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import markdown_table, report  # noqa: E402
from models.auth.tokens import TokenAuthority  # noqa: E402
from models.domain.records import Role  # noqa: E402
from server.embedded.postgres import EmbeddedPostgres  # noqa: E402
from server.embedded.redis import EmbeddedRedis  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SECRET = "chaos-" + "k" * 40
SCENARIOS = ("leave", "close", "freeze", "blip-resume", "blip-new", "second-tab", "switch")
# Engine.IO gives up on a frozen client after ping interval + timeout (25 + 20 s by default).
FROZEN_NOTICED_S = 50.0
# Clients that freeze do so this long before the run ends (they play the others till then).
FREEZE_BEFORE_END_S = 15.0
CALL_TIMEOUT_S = 15.0


def now() -> datetime:
    return datetime.now(UTC)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Stay:
    """One stay as its client lived it."""

    scenario: str
    user: str
    breakout: str
    session_id: str
    entry: datetime
    exit: datetime | None = None
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)
    killed: bool = False  # its node was killed during it
    # A resume of it was sent to a node that died before acking: whether that one took, its
    # client cannot know, so its gaps are not judged (its entry and exit are).
    ambiguous: bool = False


class Gone(Exception):
    """The connection is closed (by us, by the server, or by a killed node)."""


class RawClient:
    """A Socket.IO client spoken by hand: it answers pings until frozen, and notes when it last
    sent a packet and when its connection closed."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.last_sent = now()
        self.closed_at: datetime | None = None
        self.closed = asyncio.Event()
        self.expelled_at: datetime | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._reader: asyncio.Task[None] | None = None

    async def open(self, url: str, token: str) -> None:
        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self._session = aiohttp.ClientSession()
        self.ws = await self._session.ws_connect(ws_url, timeout=aiohttp.ClientWSTimeout(10))
        opened = await asyncio.wait_for(self.ws.receive(), 10)
        if opened.type != aiohttp.WSMsgType.TEXT or not opened.data.startswith("0"):
            raise Gone("no Engine.IO open")
        await self._send("40" + json.dumps({"token": token}))
        connected = await asyncio.wait_for(self.ws.receive(), 10)
        if connected.type != aiohttp.WSMsgType.TEXT or not connected.data.startswith("40{"):
            raise Gone(f"refused: {connected.data}")
        self._reader = asyncio.create_task(self._read())

    async def _send(self, text: str) -> None:
        assert self.ws is not None
        if self.closed.is_set():
            raise Gone("closed")
        await self.ws.send_str(text)
        self.last_sent = now()

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                frame = message.data
                if frame == "2":
                    await self._send("3")
                elif frame.startswith("43"):
                    digits = frame[2:].split("[", 1)[0]
                    future = self._acks.pop(int(digits), None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(frame[2 + len(digits) :])[0])
                elif frame.startswith('42["playback"'):
                    self.expelled_at = self.expelled_at or now()
                elif frame.startswith("41"):
                    break
        except Exception:  # noqa: S110 - any failure of the connection ends it the same way
            pass
        self._mark_closed()

    def _mark_closed(self) -> None:
        if not self.closed.is_set():
            self.closed_at = now()
            self.closed.set()
        for future in self._acks.values():
            if not future.done():
                future.set_exception(Gone("closed before the ack"))
        self._acks.clear()

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[self._next_id] = future
        await self._send(f"42{self._next_id}" + json.dumps([event, payload]))
        return await asyncio.wait_for(future, CALL_TIMEOUT_S)

    async def freeze(self) -> datetime:
        """Stop reading and answering; the connection stays open. Returns the last packet's time."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        return self.last_sent

    async def close(self) -> datetime:
        at = now()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        self._mark_closed()
        await self.release()
        return at

    async def cut(self) -> datetime:
        """A network blip: the TCP connection drops, no close frame."""
        at = now()
        connection = self.ws._conn if self.ws is not None else None  # noqa: SLF001
        if connection is not None and connection.transport is not None:
            connection.transport.abort()
        self._mark_closed()
        await self.release()
        return at

    async def release(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()


@dataclass
class Run:
    """What the conductor and the actors share."""

    urls: dict[str, str]  # node name -> URL
    org: str
    breakouts: list[str]
    ends_at: float
    rng: random.Random
    stays: list[Stay] = field(default_factory=list)
    unacked: int = 0  # joins sent whose ack never came (their node died meanwhile)
    # New joins whose ack never came: user, breakout, when sent. Their rows may exist.
    attempts: list[tuple[str, str, datetime]] = field(default_factory=list)
    killed: set[str] = field(default_factory=set)
    kill_at: datetime | None = None
    problems: list[str] = field(default_factory=list)

    def token(self, user: str) -> str:
        return TokenAuthority(secret=SECRET).mint(
            user_id=user, name=user, org_id=self.org, role=Role.ATTENDEE, ttl_s=7200
        )

    def live_node(self) -> str:
        names = [name for name in self.urls if name not in self.killed]
        return self.rng.choice(names)

    def time_left(self) -> float:
        return self.ends_at - time.monotonic()


class Actor:
    """One client playing one scenario; it reconnects and resumes when its node is killed."""

    def __init__(self, run: Run, scenario: str, number: int) -> None:
        self.run = run
        self.scenario = scenario
        self.user = f"{scenario}-{number}-{secrets.token_hex(2)}"
        self.node = run.live_node()
        self.client = RawClient()
        self.stay: Stay | None = None

    async def connect(self, node: str | None = None) -> RawClient:
        self.node = node or self.run.live_node()
        client = RawClient()
        try:
            await client.open(self.run.urls[self.node], self.run.token(self.user))
        except BaseException:
            await client.release()
            raise
        return client

    async def join(self, breakout: str, resume: str | None = None) -> Stay:
        payload: dict[str, Any] = {"breakoutId": breakout}
        if resume is not None:
            payload["resumeSessionId"] = resume
        sent = now()
        try:
            ack = await self.client.call("join-chat-room", payload)
        except (Gone, TimeoutError):
            self.run.unacked += 1
            if resume is None:
                self.run.attempts.append((self.user, breakout, sent))
            raise
        acked = now()
        if not ack.get("ok"):
            raise Gone(f"join refused: {ack}")
        if resume is not None and self.stay is not None:
            if not ack["resumed"] or ack["sessionId"] != resume:
                self.run.problems.append(f"{self.user}: resume refused {ack}")
                raise Gone("not resumed")
            return self.stay
        stay = Stay(self.scenario, self.user, breakout, ack["sessionId"], acked)
        self.run.stays.append(stay)
        return stay

    async def hold(self, seconds: float) -> None:
        """Stay for `seconds` (less if the run ends); if the node is killed meanwhile, come back
        on another and resume, the gap from the kill to the resume's ack."""
        deadline = time.monotonic() + max(0.0, min(seconds, self.run.time_left()))
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.client.closed.wait(), left)
            if not self.client.closed.is_set() or self.stay is None:
                continue
            if self.node not in self.run.killed:
                raise Gone("closed by the server")
            stay = self.stay
            stay.killed = True
            lost_at = self.run.kill_at or self.client.closed_at or now()
            await self.client.release()
            await asyncio.sleep(self.run.rng.uniform(0.5, 1.5))
            stay.gaps.append((lost_at, await self.come_back(stay)))

    async def come_back(self, stay: Stay) -> datetime:
        """Reconnect and resume the stay, as an app does; again on a live node if the node it
        asked died before answering. When the resume was acked."""
        for _ in range(3):
            await self.client.release()
            try:
                self.client = await self.connect()
                await self.join(stay.breakout, resume=stay.session_id)
                return now()
            except (Gone, TimeoutError, aiohttp.ClientError, OSError):
                if self.node not in self.run.killed:
                    raise
                stay.ambiguous = True  # the node it asked died (before answering, or at once)
                await asyncio.sleep(self.run.rng.uniform(0.5, 1.5))
        raise Gone("could not resume")

    async def play(self) -> None:
        """Scenario after scenario until the run ends; an actor that freezes does so last."""
        freezes = self.scenario == "freeze"
        others = [name for name in SCENARIOS if name != "freeze"]
        first = others.index(self.scenario) if self.scenario in others else 0
        for turn in itertools.count(first):
            last = freezes and self.run.time_left() < FREEZE_BEFORE_END_S
            if self.run.time_left() < 3 and not last:
                return
            self.scenario = "freeze" if last else others[turn % len(others)]
            self.stay = None
            try:
                self.client = await self.connect()
                await getattr(self, self.scenario.replace("-", "_"))()
            except (Gone, TimeoutError, aiohttp.ClientError, OSError) as exc:
                stay = self.stay
                if stay is not None and stay.exit is None and self.node in self.run.killed:
                    # Its node died under an unanswered request (a switch, a second tab): the
                    # stay ended with the node, whichever way the node meant to end it.
                    stay.exit, stay.killed = self.run.kill_at, True
                elif stay is not None and stay.exit is None:
                    self.run.problems.append(f"{self.user} ({self.scenario}): {exc!r}")
            finally:
                await self.client.release()
            if last:
                return

    def breakout(self) -> str:
        return self.run.rng.choice(self.run.breakouts)

    def span(self) -> float:
        return self.run.rng.uniform(2.0, 8.0)

    async def finish(self) -> None:
        """Leave at the end of the stay."""
        assert self.stay is not None
        sent = now()
        ack = await self.client.call("leave-chat-room", {"breakoutId": self.stay.breakout})
        if not ack.get("ok"):
            raise Gone(f"leave refused: {ack}")
        self.stay.exit = sent

    async def leave(self) -> None:
        self.stay = await self.join(self.breakout())
        await self.hold(self.span())
        await self.finish()

    async def close(self) -> None:
        self.stay = await self.join(self.breakout())
        await self.hold(self.span())
        self.stay.exit = await self.client.close()

    async def freeze(self) -> None:
        # On the node that survives: a client frozen on a node that is then killed is recorded
        # at that node's last beat (the node died with when it last heard the client).
        await self.client.release()
        self.client = await self.connect("b")
        self.stay = await self.join(self.breakout())
        await self.hold(self.span())
        self.stay.exit = await self.client.freeze()
        # Frozen, the connection stays open until the server gives up on it.
        await asyncio.sleep(max(0.0, self.run.time_left()) + FROZEN_NOTICED_S)

    async def blip_resume(self) -> None:
        self.stay = await self.join(self.breakout())
        await self.hold(self.span())
        cut_at = await self.client.cut()
        await asyncio.sleep(self.run.rng.uniform(0.3, 3.0))
        self.stay.gaps.append((cut_at, await self.come_back(self.stay)))
        await self.hold(self.span())
        await self.finish()

    async def blip_new(self) -> None:
        first = self.stay = await self.join(self.breakout())
        await self.hold(self.span())
        first.exit = await self.client.cut()
        await asyncio.sleep(self.run.rng.uniform(0.3, 3.0))
        self.client = await self.connect()
        self.stay = await self.join(first.breakout)
        await self.hold(self.span())
        await self.finish()

    async def second_tab(self) -> None:
        self.stay = first = await self.join(self.breakout())
        await self.hold(self.span())
        older, self.client = self.client, await self.connect()
        self.stay = await self.join(first.breakout)  # the default device limit is 1
        for _ in range(100):
            if older.expelled_at is not None:
                break
            await asyncio.sleep(0.05)
        # Not expelled (Redis away: limits hold per node only): the older tab is closed.
        first.exit = older.expelled_at or await older.close()
        await older.release()
        await self.hold(self.span())
        await self.finish()

    async def switch(self) -> None:
        first = self.stay = await self.join(self.breakout())
        await self.hold(self.span())
        others = [b for b in self.run.breakouts if b != first.breakout]
        sent = now()
        self.stay = await self.join(self.run.rng.choice(others))
        first.exit = sent
        await self.hold(self.span())
        await self.finish()


@dataclass
class Node:
    name: str
    url: str
    process: asyncio.subprocess.Process


@contextlib.asynccontextmanager
async def nodes(
    names: list[str], database_url: str, redis_url: str, var_dir: Path
) -> AsyncIterator[dict[str, Node]]:
    """`run.py serve` per name, on default settings, sharing PostgreSQL and Redis."""
    started: dict[str, Node] = {}
    try:
        for name in names:
            port = free_port()
            directory = var_dir / name
            directory.mkdir(parents=True, exist_ok=True)
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "AUTH_SECRET": SECRET,
                "PORT": str(port),
                "VAR_DIR": str(directory),
                "CONNECT_LIMIT_EXEMPT": "127.0.0.1/32",
                "LOG_LEVEL": "WARNING",
            }
            with (directory / "server.log").open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "run.py", "serve", cwd=ROOT, env=env, stdout=log, stderr=log
                )
            started[name] = Node(name, f"http://127.0.0.1:{port}", process)
        async with aiohttp.ClientSession() as http:
            for node in started.values():
                await ready(http, node)
        yield started
    finally:
        for node in started.values():
            if node.process.returncode is None:
                node.process.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(node.process.wait(), 20)
            if node.process.returncode is None:
                node.process.kill()
                await node.process.wait()


async def ready(http: aiohttp.ClientSession, node: Node) -> None:
    for _ in range(300):
        if node.process.returncode is not None:
            raise RuntimeError(f"node {node.name} exited at start")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with http.get(node.url + "/readyz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"node {node.name} not ready in time")


async def conduct(
    run: Run,
    cluster: dict[str, Node],
    redis: EmbeddedRedis,
    clients: int,
    seconds: float,
) -> None:
    """Start the actors over the first part of the run; kill node A at 40%, restart Redis empty
    at 60%."""
    rng = run.rng
    actors: list[asyncio.Task[None]] = []

    async def kill_a() -> None:
        await asyncio.sleep(seconds * 0.4)
        run.killed.add("a")
        run.kill_at = now()
        cluster["a"].process.kill()
        await cluster["a"].process.wait()

    async def restart_redis() -> None:
        await asyncio.sleep(seconds * 0.6)
        await asyncio.to_thread(redis.stop)
        await asyncio.sleep(3)
        await asyncio.to_thread(redis.start)

    chaos = [asyncio.create_task(kill_a()), asyncio.create_task(restart_redis())]
    # Every actor is on within the first tenth of the run, and plays until its end.
    for number in range(clients):
        scenario = SCENARIOS[number % len(SCENARIOS)]
        actors.append(asyncio.create_task(Actor(run, scenario, number).play()))
        await asyncio.sleep(rng.uniform(0, 0.2 * seconds / clients))
    await asyncio.gather(*chaos)
    await asyncio.gather(*actors)


async def rows_of(database_url: str, org: str) -> tuple[list[Any], list[Any]]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT session_id, user_id, breakout_id, entry_ts, exit_ts, exit_reason, interruptions"
            " FROM attendance_sessions WHERE org_id = $1",
            org,
        )
        gaps = await connection.fetch(
            "SELECT g.session_id, g.left_at, g.back_at FROM session_interruptions AS g"
            " JOIN attendance_sessions AS s USING (user_id, breakout_id, session_id)"
            " WHERE s.org_id = $1 ORDER BY g.left_at",
            org,
        )
    finally:
        await connection.close()
    return list(rows), list(gaps)


async def settled(database_url: str, org: str, timeout_s: float) -> None:
    """Wait until no row of the run is open (frozen clients are noticed last)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows, _ = await rows_of(database_url, org)
        if rows and all(row["exit_ts"] is not None for row in rows):
            return
        await asyncio.sleep(1)


def judge(run: Run, rows: list[Any], gaps: list[Any]) -> dict[str, Any]:
    """Match every stay to its row and every row to a stay; the errors, in seconds."""
    by_id = {row["session_id"]: row for row in rows}
    gaps_of: dict[str, list[Any]] = {}
    for gap in gaps:
        gaps_of.setdefault(gap["session_id"], []).append(gap)
    errors: dict[str, list[float]] = {}
    problems = list(run.problems)
    seen: set[str] = set()
    within = total = ambiguous = 0
    for stay in run.stays:
        label = "node-kill" if stay.killed else stay.scenario
        ambiguous += stay.ambiguous
        row = by_id.get(stay.session_id)
        if row is None:
            problems.append(f"no row for {stay.user}'s stay {stay.session_id}")
            continue
        if stay.session_id in seen:
            problems.append(f"two stays for one row {stay.session_id}")
        seen.add(stay.session_id)
        if stay.exit is None or row["exit_ts"] is None:
            problems.append(f"open: {stay.user} truth {stay.exit} row {row['exit_ts']}")
            continue
        entry = abs((row["entry_ts"] - stay.entry).total_seconds())
        exit_ = abs((row["exit_ts"] - stay.exit).total_seconds())
        errors.setdefault(f"{label} entry", []).append(entry)
        errors.setdefault(f"{label} exit", []).append(exit_)
        total += 1
        within += entry <= 1 and exit_ <= 1
        recorded = gaps_of.get(stay.session_id, [])
        if stay.ambiguous:
            continue
        if len(recorded) != len(stay.gaps) or row["interruptions"] != len(stay.gaps):
            problems.append(f"{stay.user}: {len(stay.gaps)} gaps lived, {len(recorded)} recorded")
            continue
        for (left, back), gap in zip(stay.gaps, recorded, strict=True):
            gap_error = max(
                abs((gap["left_at"] - left).total_seconds()),
                abs((gap["back_at"] - back).total_seconds()),
            )
            errors.setdefault(f"{label} gap", []).append(gap_error)
            if gap_error > 1:
                problems.append(f"{stay.user}: gap off by {gap_error:.3f} s")
    strangers = [
        row
        for row in rows
        if row["session_id"] not in seen
        and not any(
            user == row["user_id"]
            and breakout == row["breakout_id"]
            and abs((row["entry_ts"] - sent).total_seconds()) < 2
            for user, breakout, sent in run.attempts
        )
    ]
    unacked_rows = len(rows) - len(seen) - len(strangers)
    return {
        "stays": total,
        "within_1s": within,
        "share_within_1s": within / total if total else 0.0,
        "rows_without_a_stay": len(strangers),
        "unacked_joins": run.unacked,
        "rows_of_unacked_joins": unacked_rows,
        "stays_with_an_unacked_resume": ambiguous,
        "problems": problems,
        "errors": {
            name: {
                "n": len(values),
                "median": statistics.median(values),
                "p95": sorted(values)[int(0.95 * (len(values) - 1))],
                "max": max(values),
            }
            for name, values in sorted(errors.items())
        },
    }


async def chaos_run(
    database_url: str, var_dir: Path, *, clients: int, seconds: float, seed: int | None = None
) -> dict[str, Any]:
    """One chaos run on its own Redis and two nodes; the judgement of its record."""
    redis = EmbeddedRedis(var_dir / "redis")
    running = await asyncio.to_thread(redis.start)
    try:
        async with nodes(["a", "b"], database_url, running.url, var_dir) as cluster:
            rng = random.Random(seed)  # noqa: S311 - chaos, not secrets
            run = Run(
                urls={name: node.url for name, node in cluster.items()},
                org=f"chaos-{secrets.token_hex(4)}",
                breakouts=[f"room-{n}" for n in range(max(2, clients // 20))],
                ends_at=time.monotonic() + seconds,
                rng=rng,
            )
            await conduct(run, cluster, redis, clients, seconds)
            await settled(database_url, run.org, FROZEN_NOTICED_S + 30)
            rows, gaps = await rows_of(database_url, run.org)
    finally:
        await asyncio.to_thread(redis.stop)
    result = judge(run, rows, gaps)
    result["clients"], result["seconds"] = clients, seconds
    return result


def table(result: dict[str, Any]) -> list[str]:
    rows = [
        [
            name,
            str(figures["n"]),
            f"{figures['median']:.3f}",
            f"{figures['p95']:.3f}",
            f"{figures['max']:.3f}",
        ]
        for name, figures in result["errors"].items()
    ]
    lines = markdown_table(
        f"Chaos: {result['clients']} clients, {result['seconds']:.0f} s, two nodes, "
        "kill -9 of one, Redis restarted empty (error against each client's truth, seconds)",
        ["scenario", "n", "median", "p95", "max"],
        rows,
    )
    lines += [
        "",
        f"{result['within_1s']} of {result['stays']} stays within 1 s of the truth "
        f"({100 * result['share_within_1s']:.2f}%); rows without a stay: "
        f"{result['rows_without_a_stay']}; joins or resumes never acked (their node was killed): "
        f"{result['unacked_joins']}, {result['rows_of_unacked_joins']} rows of them; "
        f"problems: {len(result['problems'])}",
        *(f"- {problem}" for problem in result["problems"][:20]),
    ]
    return lines


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="attendance-chaos-") as scratch:
        var_dir = Path(scratch)
        await asyncio.to_thread(var_dir.chmod, 0o755)  # the embedded PostgreSQL's own user
        if options.database_url:
            result = await chaos_run(
                options.database_url,
                var_dir,
                clients=options.clients,
                seconds=options.seconds,
                seed=options.seed,
            )
        else:
            postgres = EmbeddedPostgres(var_dir / "postgres")
            running = await asyncio.to_thread(postgres.start)
            try:
                result = await chaos_run(
                    running.url,
                    var_dir,
                    clients=options.clients,
                    seconds=options.seconds,
                    seed=options.seed,
                )
            finally:
                await asyncio.to_thread(postgres.stop)
    report("chaos", result, table(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
