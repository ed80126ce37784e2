"""The stack's ceiling: python-socketio on aiohttp that only enters/leaves rooms and acks.

No auth, no enrichment, no storage, no presence: what `bench/load.py` compares the real server
with. `--workers N` runs N such processes on one port (SO_REUSEPORT, websocket transport), as
`run.py serve --workers N` does, on the same event loop (--loop).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from typing import Any

import socketio
import uvloop
from aiohttp import web


def bare_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", transports=["websocket"])

    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.enter_room(sid, data["breakoutId"])
        return {"ok": True, "breakoutId": data["breakoutId"]}

    async def leave(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.leave_room(sid, data["breakoutId"])
        return {"ok": True, "breakoutId": data["breakoutId"]}

    sio.on("join-chat-room", join)
    sio.on("leave-chat-room", leave)
    app = web.Application()
    sio.attach(app)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    others = [
        subprocess.Popen(  # noqa: S603 - this same script
            [sys.executable, __file__, "--port", str(args.port), "--loop", args.loop]
        )
        for _ in range(args.workers - 1)
    ]

    app = bare_app()

    async def stop_others(app: web.Application) -> None:
        for other in others:
            other.send_signal(signal.SIGTERM)

    app.on_shutdown.append(stop_others)
    try:
        # aiohttp turns SIGTERM into a graceful exit, which runs on_shutdown.
        web.run_app(
            app,
            host="127.0.0.1",
            port=args.port,
            reuse_port=True,
            print=None,
            loop=uvloop.new_event_loop() if args.loop == "uvloop" else None,
        )
    finally:
        for other in others:
            other.wait(10)


if __name__ == "__main__":
    main()
