"""Stopping a background task without trusting it to stop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0


async def pause(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`, or less when `stopping` is set; True when it is (time to stop)."""
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def stop_task(
    task: asyncio.Task[Any] | None,
    stopping: asyncio.Event | None = None,
    timeout_s: float = STOP_TIMEOUT_S,
) -> None:
    """Stop `task`: set `stopping` and let it finish, else cancel it; wait `timeout_s` at most.

    Loops we own check an event, so they end between rounds and never depend on cancellation.

    Library code under a task can swallow its CancelledError (seen with the Redis client under
    python-socketio's emit), leaving it "cancelling" but running; awaiting it unbounded would
    hang the whole shutdown. A task still running after the timeout is logged and left to the
    event loop's final cancellation.
    """
    if task is None or task.done():
        return
    if stopping is not None:
        stopping.set()
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if done:
            return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        logger.error("background task %s did not stop in %.0f s", task.get_name(), timeout_s)
    elif not task.cancelled() and task.exception() is not None:
        logger.error("background task %s failed: %r", task.get_name(), task.exception())
