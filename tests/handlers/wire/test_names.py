"""The contract's names: every client event has its handler, rooms are named as documented."""

from __future__ import annotations

from handlers.socket.audience import AudienceNamespace
from handlers.wire.names import CLIENT_EVENTS, chat_room, handler_name, staff_room, watchers_room


def test_every_client_event_has_a_handler_and_every_handler_an_event() -> None:
    handlers = {name[3:] for name in dir(AudienceNamespace) if name.startswith("on_")}
    assert handlers - {"connect", "disconnect"} == {handler_name(e) for e in CLIENT_EVENTS}


def test_room_names() -> None:
    assert chat_room("b1") == "chat-room-b1"
    assert watchers_room("b1") == "watchers-b1"
    assert staff_room("org-a") == "staff-org-a"
