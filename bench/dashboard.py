"""The live view of a breakout with 5,000 viewers, measured in Chromium.

Starts the server in this process on an embedded PostgreSQL, puts 5,000 viewers into the
breakout's live presence (the store the host's snapshot is read from), opens the host's live
view in Chromium (Playwright, Debian's binary) and reads what the page measured itself: how long
the snapshot took to render, and from navigation start until the 5,000 rows were on screen.
Then real Socket.IO clients join and leave in rounds while the page applies each presence diff
(timed by the page too). Several rounds; medians. Writes bench/results/dashboard.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402
from aiohttp import web  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from bench.report import bench_postgres, markdown_table, report  # noqa: E402
from config import load_settings  # noqa: E402
from handlers.keys import PRESENCE, TOKENS  # noqa: E402
from models.domain.records import Role, org_place  # noqa: E402
from models.live.presence import Viewer  # noqa: E402
from server import create_app, runner_options  # noqa: E402

ORG, BREAKOUT = "bench", "big-class"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DEVICES = (("Chrome", "Windows", "desktop"), ("Mobile Safari", "iOS", "mobile"))


def viewer(number: int) -> Viewer:
    browser, system, device = DEVICES[number % len(DEVICES)]
    return Viewer(
        user_id=f"user-{number:06d}",
        name=f"Student {number}",
        session_id=f"bench{number:011d}",
        since=datetime.now(UTC) - timedelta(seconds=number),
        city="London",
        country_code="GB",
        browser=browser,
        os=system,
        device=device,
    )


async def measure(
    url: str, app: web.Application, viewers: int, diffs: int, movers: int
) -> dict[str, Any]:
    mint = app[TOKENS].mint
    host = mint(user_id="host", name="Host", org_id=ORG, role=Role.HOST, ttl_s=3600)
    for number in range(viewers):
        await app[PRESENCE].add(org_place(ORG, BREAKOUT), viewer(number))
    clients = []
    for number in range(movers):
        client = socketio.AsyncClient()
        token = mint(
            user_id=f"mover-{number}",
            name=f"Mover {number}",
            org_id=ORG,
            role=Role.ATTENDEE,
            ttl_s=3600,
        )
        await client.connect(url, auth={"token": token}, transports=["websocket"])
        clients.append(client)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(f"{url}/dashboard/breakouts/{BREAKOUT}#token={host}")
            for _ in range(1200):  # the page's CSP refuses wait_for_function's eval
                shown = await page.evaluate("() => window.__dashboardTimings?.viewers")
                if shown == viewers:
                    break
                await asyncio.sleep(0.05)
            first = await page.evaluate("() => ({...window.__dashboardTimings})")
            for _ in range(diffs):  # each round: every mover joins, then leaves
                for event in ("join-chat-room", "leave-chat-room"):
                    await asyncio.gather(
                        *(c.call(event, {"breakoutId": BREAKOUT}) for c in clients)
                    )
                    await asyncio.sleep(0.4)  # presence diffs go out every 250 ms
            timings = await page.evaluate("() => ({...window.__dashboardTimings})")
        finally:
            await browser.close()
    for client in clients:
        await client.disconnect()
    return {
        "snapshot_ms": first["snapshotMs"],
        "on_screen_ms": first["renderedAtMs"],
        "connected_ms": first["watchSentMs"],
        "watch_ack_ms": first["ackMs"] - first["watchSentMs"],
        "diff_ms": timings["diffMs"],
    }


async def run(database_url: str, var_dir: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    rounds = []
    for round_number in range(args.rounds):
        port = 18_700 + round_number
        settings = load_settings({}).with_overrides(
            database_url=database_url,
            var_dir=var_dir,
            port=port,
            host="127.0.0.1",
            log_level="WARNING",
            journal_dir=var_dir / f"journal-{port}",
        )
        app = create_app(settings)
        runner = web.AppRunner(app, handle_signals=False, **runner_options(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            rounds.append(
                await measure(
                    f"http://127.0.0.1:{port}", app, args.viewers, args.diffs, args.movers
                )
            )
        finally:
            await runner.cleanup()
        print(
            f"round {round_number + 1}: snapshot {rounds[-1]['snapshot_ms']:.0f} ms",
            file=sys.stderr,
        )  # noqa: T201
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=5000, help="viewers in the breakout (5000)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="page loads, each on a fresh server (5)"
    )
    parser.add_argument(
        "--diffs", type=int, default=5, help="join-and-leave rounds per page load (5)"
    )
    parser.add_argument("--movers", type=int, default=20, help="clients joining and leaving (20)")
    args = parser.parse_args()
    with bench_postgres() as (_, running, root):
        rounds = asyncio.run(run(running.url, root / "var", args))
    diffs = [ms for one in rounds for ms in one["diff_ms"]]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "viewers": args.viewers,
        "rounds": rounds,
        "snapshot_ms_median": round(statistics.median(r["snapshot_ms"] for r in rounds), 1),
        "on_screen_ms_median": round(statistics.median(r["on_screen_ms"] for r in rounds), 1),
        "connected_ms_median": round(statistics.median(r["connected_ms"] for r in rounds), 1),
        "watch_ack_ms_median": round(statistics.median(r["watch_ack_ms"] for r in rounds), 1),
        "diff_ms_median": round(statistics.median(diffs), 2),
        "diff_ms_max": round(max(diffs), 2),
        "diffs": len(diffs),
    }
    table = markdown_table(
        f"Live view of a breakout with {args.viewers:,} viewers in Chromium"
        f" ({args.rounds} page loads)",
        ["measure", "median ms", "max ms"],
        [
            [
                "snapshot rendered (watch ack to rows on screen)",
                f"{result['snapshot_ms_median']}",
                f"{max(r['snapshot_ms'] for r in rounds):.1f}",
            ],
            [
                "navigation start to socket connected and watching",
                f"{result['connected_ms_median']}",
                f"{max(r['connected_ms'] for r in rounds):.1f}",
            ],
            [
                "watch-breakout sent to its ack (the server, and the snapshot's JSON)",
                f"{result['watch_ack_ms_median']}",
                f"{max(r['watch_ack_ms'] for r in rounds):.1f}",
            ],
            [
                f"navigation start to {args.viewers:,} rows on screen",
                f"{result['on_screen_ms_median']}",
                f"{max(r['on_screen_ms'] for r in rounds):.1f}",
            ],
            [
                f"presence diff applied ({len(diffs)} diffs, up to {args.movers} moves each)",
                f"{result['diff_ms_median']}",
                f"{result['diff_ms_max']}",
            ],
        ],
    )
    report("dashboard", result, table)


if __name__ == "__main__":
    main()
