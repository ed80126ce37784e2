"""The stack's ceiling: python-socketio on aiohttp that only enters/leaves rooms and acks.

No auth, no enrichment, no storage, no presence: what `bench/load.py` compares the real server
with. `--workers N` runs N such processes on one port (SO_REUSEPORT, websocket transport), as
`run.py serve --workers N` does, on the same event loop (--loop).

`--on granian` serves the same Socket.IO server as an ASGI app on Granian (Rust HTTP and
websockets, N worker processes) instead, for issue 18's question whether the server under
python-socketio is worth changing.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import socketio
import uvloop
from aiohttp import web


def bare_sio(async_mode: str) -> socketio.AsyncServer:
    """The Socket.IO server: join and leave a room, and ack."""
    sio = socketio.AsyncServer(async_mode=async_mode, transports=["websocket"])

    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.enter_room(sid, data["breakoutId"])
        return {"ok": True, "breakoutId": data["breakoutId"]}

    async def leave(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.leave_room(sid, data["breakoutId"])
        return {"ok": True, "breakoutId": data["breakoutId"]}

    sio.on("join-chat-room", join)
    sio.on("leave-chat-room", leave)
    return sio


def bare_app() -> web.Application:
    app = web.Application()
    bare_sio("aiohttp").attach(app)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    return app


def bare_asgi() -> socketio.ASGIApp:
    """The same server as an ASGI app (Granian imports it: `bare_server:bare_asgi`)."""
    sio = bare_sio("asgi")

    async def healthz(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"status": "ok"}'})

    return socketio.ASGIApp(sio, other_asgi_app=healthz)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--on", choices=["aiohttp", "granian"], default="aiohttp")
    args = parser.parse_args()
    if args.on == "granian":
        serve_on_granian(args.port, args.workers, args.loop)
        return
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


def serve_on_granian(port: int, workers: int, loop: str) -> None:
    """Granian in this process, its workers its children; SIGTERM stops them all."""
    from granian.constants import Interfaces, Loops  # only this target needs it
    from granian.server import Server

    Server(
        "bare_server:bare_asgi",
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops(loop),
        factory=True,
        working_dir=Path(__file__).resolve().parent,
        log_enabled=False,
    ).serve()


if __name__ == "__main__":
    main()
