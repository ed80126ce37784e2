"""Chat benchmark: one breakout of 2,000 viewers over two nodes, 50 comments a second.

Starts two `run.py serve` nodes sharing an embedded PostgreSQL and Redis. Helper processes
connect the viewers (half to each node; Engine.IO v4 / Socket.IO v5 over aiohttp websockets, as
in bench/load.py) and join one breakout. Posters (in the breakout, on both nodes) send
`--rate` comments a second for `--seconds`. Each helper times every `new-comment` frame from the
comment's `createdAt` (the server's clock when it took the comment; same machine) to its
arrival, and counts what each viewer received. Meanwhile clients in other breakouts join and
leave at `--join-rate` events a second; their ack latency is measured before the chat starts
and during it. The server nodes' CPU (user + system, from /proc) is read over the joins-only
phase and over the chat phase (same length): what the chat adds, per delivery, is the server's
cost of a comment reaching a viewer; the helpers' CPU per delivery is the viewers' side. With
`--deflate` the viewers offer per-message deflate as browsers do; `--env NAME=VALUE` sets a
server setting on both nodes (WS_COMPRESSION=on, say). Writes bench/results/<--name>.{json,md}.

Every comment acked to a poster must reach every viewer: the report gives the deliveries
expected and received, and the fewest any one viewer received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    SECRET,
    Client,
    Ledger,
    Target,
    clients,
    cpu_seconds,
    free_port,
    percentile,
    raise_file_limit,
    rss_bytes,
    step,
)
from bench.report import bench_postgres, markdown_table, report  # noqa: E402
from server.embedded.redis import EmbeddedRedis  # noqa: E402

BREAKOUT = "bench-chat"
VIEWERS_PER_HELPER = 500
_CREATED = re.compile(r'"createdAt":"([^"]+)"')


# --- in a helper process: viewers that time every comment they receive -----------------------


class Listener:
    """Times one viewer's `new-comment` frames (from the comment's createdAt) and counts them."""

    def __init__(self, latencies: list[float]) -> None:
        self.received = 0
        self._latencies = latencies

    def __call__(self, frame: str) -> None:
        if not frame.startswith('42["new-comment"'):
            return
        arrived = time.time()
        found = _CREATED.search(frame)
        if found is not None:
            created = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
            self._latencies.append((arrived - created.timestamp()) * 1000)
            self.received += 1


async def listen_helper(url: str, count: int, first: int, deflate: bool) -> None:
    """Connect and join `count` viewers, say so, time comments until told to stop, report."""
    latencies: list[float] = []
    async with clients(url, count, first, deflate=deflate) as sockets:
        for client in sockets:  # hand each socket to a listener once it is in the room
            ack = await client.call("join-chat-room", {"breakoutId": BREAKOUT})
            if not ack.get("ok"):
                raise RuntimeError(f"join refused: {ack}")
        listeners = []
        for client in sockets:
            client.on_event = listener = Listener(latencies)
            listeners.append(listener)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)
        counts = [listener.received for listener in listeners]
    # Latencies as a histogram of whole milliseconds: 100,000s of them in one line otherwise.
    histogram: dict[int, int] = {}
    for ms in latencies:
        histogram[round(ms)] = histogram.get(round(ms), 0) + 1
    sys.stdout.write(json.dumps({"histogram": histogram, "counts": counts}) + "\n")
    sys.stdout.flush()


# --- the run ---------------------------------------------------------------------------------


async def paced(seconds: float, rate: float, act: Any) -> list[float]:
    """Call `act()` `rate` times a second for `seconds`; latencies (ms) from when each was due."""
    latencies: list[float] = []
    start = time.perf_counter()
    tasks = []

    async def one(due: float) -> None:
        await act()
        latencies.append((time.perf_counter() - due) * 1000)

    for number in range(int(seconds * rate)):
        due = start + number / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    return latencies


async def settled(pids: list[int], idle_cores: float, at_least_s: float) -> None:
    """Wait `at_least_s`, then until `pids` use less than `idle_cores` over half a second
    (a minute at most)."""
    await asyncio.sleep(at_least_s)
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        before = cpu_seconds(pids)
        await asyncio.sleep(0.5)
        if (cpu_seconds(pids) - before) / 0.5 < idle_cores:
            return


def node(
    name: str, database_url: str, redis_url: str, var_dir: str, settings: dict[str, str]
) -> Target:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AUTH_SECRET": SECRET,
        "PORT": str(port),
        "VAR_DIR": f"{var_dir}/{name}",
        "LOG_LEVEL": "WARNING",
        # The bench drives past one person's limits on purpose: measure the path.
        "EVENT_RATE_PER_S": "1000000",
        "EVENT_BURST": "1000000",
        "COMMENT_RATE_PER_MIN": "1000000",
        "TRUSTED_PROXIES": "127.0.0.1/32",
        **settings,
    }
    return Target(name, [sys.executable, "run.py", "serve"], env, port=port, processes=1)


async def run(database_url: str, redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="attendance-bench-var-") as var_dir:
        settings = dict(one.split("=", 1) for one in args.env)
        nodes = [node(name, database_url, redis_url, var_dir, settings) for name in ("a", "b")]
        for target in nodes:
            await target.start()
        try:
            return await measure(nodes, args)
        finally:
            for target in nodes:
                await target.stop()


async def measure(nodes: list[Target], args: argparse.Namespace) -> dict[str, Any]:
    helpers = []
    for first in range(0, args.viewers, VIEWERS_PER_HELPER):
        size = min(VIEWERS_PER_HELPER, args.viewers - first)
        url = nodes[(first // VIEWERS_PER_HELPER) % 2].url
        helpers.append(
            await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "bench.chat", "--listen-helper", url),
                *(str(size), str(100_000 + first), "deflate" if args.deflate else "plain"),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**24,
            )
        )
    for helper in helpers:
        assert helper.stdout is not None  # noqa: S101
        assert (await asyncio.wait_for(helper.stdout.readline(), 600)).strip() == b"ready"

    async with (
        clients(nodes[0].url, args.posters // 2, 1) as posters_a,
        clients(nodes[1].url, args.posters - args.posters // 2, 1_000) as posters_b,
        clients(nodes[0].url, args.joiners // 2, 10_000) as joiners_a,
        clients(nodes[1].url, args.joiners - args.joiners // 2, 20_000) as joiners_b,
    ):
        posters = posters_a + posters_b
        for poster in posters:
            await poster.call("join-chat-room", {"breakoutId": BREAKOUT})
        joiners = joiners_a + joiners_b
        rooms = [f"bench-other-{n}" for n in range(20)]
        ledger = Ledger()
        turn = {"next": 0}

        async def join_or_leave() -> None:
            client: Client = joiners[turn["next"] % len(joiners)]
            turn["next"] += 1
            await step(client, rooms, ledger)

        acked: list[str] = []

        async def comment() -> None:
            poster = posters[len(acked) % len(posters)]
            ack = await poster.call(
                "send-comment", {"breakoutId": BREAKOUT, "text": f"comment {time.time():.3f}"}
            )
            if ack.get("ok"):
                acked.append(ack["comment"]["id"])

        server_pids = [pid for target in nodes for pid in target.pids()]
        helper_pids = [helper.pid for helper in helpers]
        cpu_start = cpu_seconds(server_pids)
        joins_before = await paced(args.seconds, args.join_rate, join_or_leave)
        cpu_chat, helpers_chat = cpu_seconds(server_pids), cpu_seconds(helper_pids)
        chat_started = time.perf_counter()
        during = await asyncio.gather(
            paced(args.seconds, args.join_rate, join_or_leave),
            paced(args.seconds, args.rate, comment),
        )
        # The last comments reach everyone: past saturation the nodes and helpers work off a
        # backlog for seconds after the last post, and that CPU belongs to the chat too.
        await settled(server_pids + helper_pids, idle_cores=0.2, at_least_s=2.0)
        chat_s = time.perf_counter() - chat_started
        cpu_end, helpers_end = cpu_seconds(server_pids), cpu_seconds(helper_pids)
        server_rss = rss_bytes(server_pids)
        joins_during, post_acks = during

    reports = []
    for helper in helpers:
        assert helper.stdin is not None and helper.stdout is not None  # noqa: S101
        helper.stdin.write(b"stop\n")
        await helper.stdin.drain()
        reports.append(json.loads(await asyncio.wait_for(helper.stdout.readline(), 300)))
        await helper.wait()
    histogram: dict[int, int] = {}
    for one in reports:
        for ms, count in one["histogram"].items():
            histogram[int(ms)] = histogram.get(int(ms), 0) + count
    latencies = [float(ms) for ms, count in sorted(histogram.items()) for _ in range(count)]
    counts = [count for one in reports for count in one["counts"]]
    joins_only_s = cpu_chat - cpu_start
    # The chat phase makes the same joins as the joins-only phase, and the comments.
    chat_cpu_s = (cpu_end - cpu_chat) - joins_only_s
    deliveries = max(len(latencies), 1)
    return {
        "viewers": len(counts),
        "comments_acked": len(acked),
        "deliveries_expected": len(acked) * len(counts),
        "deliveries_received": len(latencies),
        "fewest_received_by_a_viewer": min(counts) if counts else 0,
        "delivery_ms": summary(latencies),
        "post_ack_ms": summary(post_acks),
        "joins_before_ms": summary(joins_before),
        "joins_during_ms": summary(joins_during),
        "join_refusals": ledger.refused,
        "server_cores_joins_only": round(joins_only_s / args.seconds, 3),
        "server_cores_during_chat": round((cpu_end - cpu_chat) / chat_s, 3),
        "server_cpu_us_per_delivery": round(chat_cpu_s * 1e6 / deliveries, 2),
        "viewers_cpu_us_per_delivery": round((helpers_end - helpers_chat) * 1e6 / deliveries, 2),
        "server_rss_mb": round(server_rss / 2**20, 1),
    }


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(values),
        "p50": round(statistics.median(ordered), 1),
        "p99": round(percentile(ordered, 0.99), 1),
        "max": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=2000, help="viewers of the breakout")
    parser.add_argument("--rate", type=float, default=50.0, help="comments a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of comments")
    parser.add_argument("--posters", type=int, default=20, help="sockets posting in turn")
    parser.add_argument("--joiners", type=int, default=40, help="sockets joining elsewhere")
    parser.add_argument("--join-rate", type=float, default=100.0, help="their events a second")
    parser.add_argument(
        "--deflate", action="store_true", help="viewers offer per-message deflate, as browsers do"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting for both nodes (repeatable), e.g. WS_COMPRESSION=on",
    )
    parser.add_argument("--name", default="chat", help="results file name under bench/results")
    parser.add_argument("--listen-helper", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listen_helper:
        url, count, first, offer = args.listen_helper
        asyncio.run(listen_helper(url, int(count), int(first), offer == "deflate"))
        return
    raise_file_limit(4 * VIEWERS_PER_HELPER + 1000)
    with bench_postgres() as (_, database, root):
        redis = EmbeddedRedis(root / "redis")
        try:
            result = asyncio.run(run(database.url, redis.start().url, args))
        finally:
            redis.stop()
    result["options"] = {k: v for k, v in vars(args).items() if k != "listen_helper"}
    result["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    d = result["delivery_ms"]
    rows = [
        ["comments acked", f"{result['comments_acked']:,}", "", ""],
        [
            "deliveries received / expected",
            f"{result['deliveries_received']:,} / {result['deliveries_expected']:,}",
            "",
            "",
        ],
        [
            "fewest comments one viewer received",
            f"{result['fewest_received_by_a_viewer']:,}",
            "",
            "",
        ],
        [
            "delivery (comment taken to viewer), ms",
            str(d.get("p50")),
            str(d.get("p99")),
            str(d.get("max")),
        ],
    ]
    rows += [
        [
            "server CPU per delivery (chat phase less joins-only phase), µs",
            str(result["server_cpu_us_per_delivery"]),
            "",
            "",
        ],
        [
            "viewers' CPU per delivery (helpers), µs",
            str(result["viewers_cpu_us_per_delivery"]),
            "",
            "",
        ],
        [
            "server cores: joins only / during the chat",
            f"{result['server_cores_joins_only']} / {result['server_cores_during_chat']}",
            "",
            "",
        ],
        ["server RSS after the chat (both nodes), MB", str(result["server_rss_mb"]), "", ""],
    ]
    for label, key in (
        ("send-comment ack (from when due), ms", "post_ack_ms"),
        ("joins elsewhere before the chat, ms", "joins_before_ms"),
        ("joins elsewhere during the chat, ms", "joins_during_ms"),
    ):
        figures = result[key]
        rows.append(
            [label, str(figures.get("p50")), str(figures.get("p99")), str(figures.get("max"))]
        )
    table = markdown_table(
        f"Chat: {result['viewers']:,} viewers over two nodes, {args.rate:g} comments/s for "
        f"{args.seconds:g} s, joins elsewhere at {args.join_rate:g}/s"
        + (", viewers offer deflate" if args.deflate else "")
        + "".join(f", {one}" for one in args.env),
        ["measure", "p50 (or count)", "p99", "max"],
        rows,
    )
    report(args.name, result, table)


if __name__ == "__main__":
    main()
