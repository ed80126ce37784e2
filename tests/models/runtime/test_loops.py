"""The background-loop runner: one failure policy and one stop path for every loop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from models.runtime.loops import BACKOFF_FIRST_S, BACKOFF_MAX_S, Loop, backoff_s
from models.runtime.metrics import Metrics


def failures_of(metrics: Metrics, loop: str) -> float:
    value = metrics.registry.get_sample_value("attendance_loop_failures_total", {"loop": loop})
    return value or 0.0


async def test_a_failing_round_is_logged_counted_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    metrics = Metrics()
    rounds = 0
    recovered = asyncio.Event()

    async def flaky() -> None:
        nonlocal rounds
        rounds += 1
        if rounds <= 3:
            raise RuntimeError("the store is away")
        recovered.set()

    loop = Loop("flaky", flaky, every_s=0.01, metrics=metrics)
    loop.start()
    await asyncio.wait_for(recovered.wait(), 5)
    await loop.stop()

    assert failures_of(metrics, "flaky") == 3
    tracebacks = [r for r in caplog.records if r.exc_info and "loop flaky failed" in r.message]
    repeats = [r for r in caplog.records if "failed again" in r.message]
    assert len(tracebacks) == 1 and len(repeats) == 2  # the same failure again: one line each
    assert any("recovered after 3 failed rounds" in r.message for r in caplog.records)


async def test_any_exception_is_survived_not_only_expected_ones() -> None:
    kinds = iter([KeyError("bug"), ValueError("bug"), AssertionError("bug")])
    survived = asyncio.Event()

    async def buggy() -> None:
        error = next(kinds, None)
        if error is None:
            survived.set()
            return
        raise error

    loop = Loop("buggy", buggy, every_s=0.01)
    loop.start()
    await asyncio.wait_for(survived.wait(), 5)
    assert loop.running
    await loop.stop()
    assert not loop.running


async def test_stop_lets_the_round_under_way_finish() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(0.1)
        finished.set()

    loop = Loop("slow", slow, every_s=60)
    loop.start()
    await started.wait()
    await loop.stop()
    assert finished.is_set() and not loop.running


async def test_a_round_that_will_not_finish_is_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop = Loop("stuck", stuck, every_s=60)
    loop.start()
    await asyncio.sleep(0.01)
    await loop.stop(timeout_s=0.05)
    assert cancelled.is_set() and not loop.running


async def test_rounds_come_every_interval_not_back_to_back() -> None:
    rounds = 0

    async def count() -> None:
        nonlocal rounds
        rounds += 1

    loop = Loop("count", count, every_s=60)
    loop.start()
    await asyncio.sleep(0.05)
    await loop.stop()
    assert rounds == 1  # the first round runs at start, the next one only after 60 s


@pytest.mark.parametrize(
    ("failures", "every_s", "expected"),
    [
        (1, 60, BACKOFF_FIRST_S),
        (2, 60, BACKOFF_FIRST_S * 2),
        (4, 60, BACKOFF_FIRST_S * 8),
        (30, 86_400, BACKOFF_MAX_S),  # a daily job retries within a minute, not a day
        (5, 1, 1),  # never later than the loop's own interval: a heartbeat keeps beating
    ],
)
def test_backoff_doubles_up_to_the_interval_or_the_cap(
    failures: int, every_s: float, expected: float
) -> None:
    assert backoff_s(failures, every_s) == expected
