"""The one way a background loop runs: rounds on an interval, one failure policy, one stop path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from models.runtime.metrics import Metrics

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
# After a failed round the next one comes after BACKOFF_FIRST_S, doubling with each failure in a
# row, never later than the loop's own interval or BACKOFF_MAX_S.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 60.0

Round = Callable[[], Awaitable[object]]


async def pause(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`, or less when `stopping` is set; True when it is (time to stop)."""
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        return False
    return True


def backoff_s(failures_in_a_row: int, every_s: float) -> float:
    """How long a loop waits after its `failures_in_a_row`-th failed round in a row."""
    return min(every_s, BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** (failures_in_a_row - 1))


class Loop:
    """Runs `round` at start and then every `every_s` (from the end of one round to the start of
    the next) until `stop()`.

    Every loop fails the same way, whatever its job: a round that raises is logged with its
    traceback (the same failure again in a row: one line), counted in
    `attendance_loop_failures_total{loop}`, and the next round comes after a backoff
    (`backoff_s`). Only `stop()` or cancellation ends the loop; a round never does.
    """

    def __init__(
        self, name: str, round: Round, *, every_s: float, metrics: Metrics | None = None
    ) -> None:
        self.name = name
        self._round = round
        self._every_s = every_s
        self._metrics = metrics
        if metrics is not None:  # the loop shows, at 0, before it first fails
            metrics.loop_failures.labels(loop=name)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Let the round under way finish (up to `timeout_s`; 0: not at all), else cancel it."""
        if timeout_s <= 0:
            self._stopping.set()
            await stop_task(self._task)
            return
        await stop_task(self._task, self._stopping, timeout_s)

    async def _run(self) -> None:
        failures = 0
        last_failure: tuple[type[BaseException], str] | None = None
        while not self._stopping.is_set():
            try:
                await self._round()
            except Exception as exc:
                failures += 1
                delay = backoff_s(failures, self._every_s)
                if self._metrics is not None:
                    self._metrics.loop_failures.labels(loop=self.name).inc()
                failure = (type(exc), str(exc))
                if failure == last_failure:
                    logger.warning(
                        "loop %s failed again (%d in a row), next round in %.1f s: %r",
                        self.name,
                        failures,
                        delay,
                        exc,
                    )
                else:
                    logger.exception("loop %s failed, next round in %.1f s", self.name, delay)
                last_failure = failure
            else:
                if failures:
                    logger.info("loop %s recovered after %d failed rounds", self.name, failures)
                failures, last_failure, delay = 0, None, self._every_s
            if await pause(self._stopping, delay):
                return


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
