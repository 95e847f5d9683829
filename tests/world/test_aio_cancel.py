"""Injected cancellation: CancelledError at await points, as a choice like any other."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from pytest_concurrency.demo.zoo import aio_semaphore
from pytest_concurrency.world.aio.cancellation import MESSAGE
from pytest_concurrency.world.api import explore, replay
from pytest_concurrency.world.report import Deadlock
from pytest_concurrency.world.strategies import uses
from pytest_concurrency.world.token import decode


def test_the_lost_wakeup_needs_an_injected_cancellation() -> None:
    quiet = explore(aio_semaphore.buggy, strategy="dfs", preemption_bound=3, runs=5000)
    assert quiet.exhausted  # without injection no schedule loses the wake-up
    with pytest.raises(Deadlock):
        explore(aio_semaphore.buggy, strategy="dfs", inject_cancel=1, runs=500)


@pytest.mark.parametrize("strategy", ["random", "dfs"])
def test_the_lost_wakeup_is_found_and_reported_with_the_injection(strategy: str) -> None:
    with pytest.raises(Deadlock) as info:
        explore(
            aio_semaphore.buggy,
            strategy=strategy,
            runs=500,
            inject_cancel=1,
            **({"seed": 1} if uses(strategy, "seed") else {}),
        )
    failure = info.value
    injected = [step for step in failure.trace if step.op == "CancelledError injected"]
    assert len(injected) == 1
    assert injected[0].thread.endswith("(user)")
    lines, first = inspect.getsourcelines(aio_semaphore.BuggySemaphore.acquire)
    await_line = first + next(i for i, line in enumerate(lines) if "await waiter" in line)
    assert injected[0].location.endswith(f"aio_semaphore.py:{await_line}")
    assert "awaits a Future at " in str(failure).splitlines()[0]


def test_the_fixed_semaphore_survives_every_cancellation_point() -> None:
    result = explore(aio_semaphore.fixed, strategy="dfs", inject_cancel=1, runs=5000)
    assert result.exhausted
    assert result.schedules_run > 50


def test_a_token_replays_with_the_cancellations_it_was_recorded_with() -> None:
    with pytest.raises(Deadlock) as info:
        explore(aio_semaphore.buggy, strategy="dfs", inject_cancel=1, runs=500)
    token = info.value.token
    assert decode(token).inject_cancel == 1
    with pytest.raises(Deadlock) as again:
        replay(aio_semaphore.buggy, token)  # no inject_cancel= needed
    assert again.value.token == token


def _cancellations_per_run(inject_cancel: int, **options: Any) -> list[list[str]]:
    """Which tasks saw an injected CancelledError, per run (the main task may not)."""
    runs: list[list[str]] = []
    messages: set[str] = set()

    async def scenario() -> None:
        cancelled: list[str] = []
        runs.append(cancelled)

        async def worker(name: str) -> None:
            try:
                for _ in range(2):
                    await asyncio.sleep(0)
            except asyncio.CancelledError as error:
                messages.add(str(error))
                cancelled.append(name)

        await asyncio.gather(worker("a"), worker("b"), worker("c"))

    explore(scenario, inject_cancel=inject_cancel, **options)
    assert messages <= {MESSAGE}  # each says where it came from
    return runs


def test_no_more_cancellations_than_the_budget_and_never_the_main_task() -> None:
    runs = _cancellations_per_run(2, strategy="dfs", preemption_bound=2, runs=5000)
    counts = {len(cancelled) for cancelled in runs}
    assert counts == {0, 1, 2}  # the main task was never cancelled, or the run would fail
    assert {name for cancelled in runs for name in cancelled} == {"a", "b", "c"}


def test_without_the_option_nothing_is_cancelled() -> None:
    runs = _cancellations_per_run(0, strategy="random", runs=100, seed=4)
    assert all(not cancelled for cancelled in runs)


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), ("1", TypeError), (True, TypeError)]
)
def test_inject_cancel_is_validated(value: Any, error: type[Exception]) -> None:
    async def scenario() -> None:
        pass

    with pytest.raises(error, match="inject_cancel"):
        explore(scenario, inject_cancel=value)
