"""GuardedServer's pieces that need no running server (the rest: tests/server)."""

from __future__ import annotations

import asyncio

from handlers.socket.protocol import GuardedServer, _ack_arguments


async def test_what_follows_an_ack_asked_for_outside_an_event_is_sent_in_a_task() -> None:
    server = GuardedServer(
        frame_rate_per_s=10,
        frame_burst=10,
        flood_disconnect_after=10,
        max_queued_bytes=1024,
        async_mode="aiohttp",
    )
    sent = asyncio.Event()

    async def send() -> None:
        sent.set()

    server.after_ack(send)
    await asyncio.wait_for(sent.wait(), 1)


def test_an_answer_becomes_its_acks_arguments_as_python_socketio_makes_them() -> None:
    assert _ack_arguments(None) == []
    assert _ack_arguments({"ok": True}) == [{"ok": True}]
    assert _ack_arguments(({"ok": True}, 2)) == [{"ok": True}, 2]
    assert _ack_arguments([1, 2]) == [[1, 2]]  # a list is one argument
