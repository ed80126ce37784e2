"""ClusterCommands with a bus that fails: what could not be sent is sent again."""

from __future__ import annotations

from typing import Any, cast

from handlers.socket.cluster import ClusterCommands
from models.cluster.bus import Bus, Message
from models.live.desk import JoinOutcome
from tests.support.records import sample_session


class FlakyBus:
    def __init__(self) -> None:
        self.down = True
        self.sent: list[Message] = []

    def subscribe(self, handler: Any) -> None:
        pass

    async def publish(self, message: Message) -> None:
        if self.down:
            raise ConnectionError("redis is away (test)")
        self.sent.append(message)


class NobodyHere:
    """An attendance desk holding none of the sessions it is asked to expel."""

    async def expel(self, session_id: str) -> None:
        return None


async def test_an_expel_the_bus_could_not_carry_is_sent_again() -> None:
    bus = FlakyBus()
    commands = ClusterCommands(
        cast(Any, None), cast(Any, NobodyHere()), cast(Any, None), cast(Bus, bus)
    )
    outcome = JoinOutcome(session=sample_session("b1", 2), count=2, over_device_limit=("s1",))
    await commands.after_join(outcome)  # the other node holds s1, and Redis is away
    assert bus.sent == []
    await commands.resend()  # still away: kept
    bus.down = False
    await commands.resend()
    assert bus.sent == [{"kind": "expel", "sessionId": "s1"}]
    await commands.resend()
    assert len(bus.sent) == 1  # sent once
