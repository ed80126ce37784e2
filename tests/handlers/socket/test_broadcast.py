"""The presence broadcaster alone, with a one-node bus and presence in memory."""

from __future__ import annotations

from typing import Any

from handlers.socket.broadcast import PresenceBroadcaster
from handlers.wire.names import chat_room, watchers_room
from handlers.wire.records import Json
from models.cluster.bus import MemoryBus
from models.live.desk import JoinOutcome
from models.live.presence import MemoryPresence, Viewer
from tests.support.records import sample_session


async def test_a_storm_into_one_breakout_is_one_diff_with_each_join_once() -> None:
    sent: list[tuple[str, Json, list[str]]] = []

    async def emit_here(event: str, data: Json, rooms: list[str]) -> None:
        sent.append((event, data, rooms))

    bus, presence = MemoryBus(), MemoryPresence()
    broadcaster = PresenceBroadcaster(emit_here, bus, presence, interval_s=60)

    async def deliver(message: dict[str, Any]) -> None:
        await broadcaster.deliver(message["updates"])

    bus.subscribe(deliver)
    sessions = [sample_session("b1", n) for n in range(2000)]
    place = sessions[0].place  # the breakout among every org's: org-a/b1
    for each in sessions:
        await presence.add(place, Viewer.of(each))
        broadcaster.joined(JoinOutcome(session=each, count=0))
    broadcaster.joined(JoinOutcome(session=sessions[7], count=0))  # told twice: listed once

    await broadcaster.flush()

    [(count_event, count, count_rooms), (diff_event, diff, diff_rooms)] = sent
    assert (count_event, count) == ("viewer-count", {"breakoutId": "b1", "count": 2000})
    assert count_rooms == [chat_room(place), watchers_room(place)]
    assert diff_event == "presence-diff" and diff_rooms == [watchers_room(place)]
    assert [join["sessionId"] for join in diff["joins"]] == [s.session_id for s in sessions]
    await broadcaster.flush()
    assert len(sent) == 2  # nothing new, nothing sent
