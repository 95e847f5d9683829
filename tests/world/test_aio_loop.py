"""The controlled event loop: every task step is a choice, time is virtual, asyncio works."""

from __future__ import annotations

import asyncio
import builtins
import itertools
import sys
import time
from typing import Any

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency.world.aio.loop import ControlledLoop
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import Deadlock, InterleavingFailure
from pytest_concurrency.world.strategies import uses


def _merges(first: tuple[str, ...], second: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Every interleaving of two sequences that keeps each one's own order."""
    size = len(first) + len(second)
    merged = set()
    for slots in itertools.combinations(range(size), len(first)):
        a, b = iter(first), iter(second)
        merged.add(tuple(next(a) if i in slots else next(b) for i in range(size)))
    return merged


async def _two_steps(log: list[str], name: str) -> None:
    log.append(f"{name}1")
    await asyncio.sleep(0)
    log.append(f"{name}2")


def test_a_coroutine_function_is_a_scenario_run_on_a_controlled_loop() -> None:
    loops: list[type] = []

    async def scenario() -> None:
        loops.append(type(asyncio.get_running_loop()))

    result = explore(scenario, strategy="dfs")
    assert result.exhausted
    assert result.schedules_run == 1
    assert loops == [ControlledLoop]


def test_every_interleaving_of_two_tasks_is_explored() -> None:
    orders: set[tuple[str, ...]] = set()

    async def scenario() -> None:
        log: list[str] = []
        await asyncio.gather(_two_steps(log, "a"), _two_steps(log, "b"))
        orders.add(tuple(log))

    result = explore(scenario, strategy="dfs", preemption_bound=10, runs=1000)
    assert result.exhausted
    assert orders == _merges(("a1", "a2"), ("b1", "b2"))


def test_the_unguided_schedule_is_asyncios_own_order() -> None:
    async def scenario(log: list[str]) -> None:
        await asyncio.gather(*(_two_steps(log, name) for name in "abc"))

    real: list[str] = []
    asyncio.run(scenario(real))
    explored: list[list[str]] = []

    async def explored_scenario() -> None:
        explored.append([])
        await scenario(explored[-1])

    result = explore(explored_scenario, strategy="dfs", preemption_bound=0)
    assert result.exhausted
    assert explored == [real]


@pytest.mark.parametrize("strategy", ["pct", "random", "dfs"])
def test_a_lost_update_across_an_await_is_found(strategy: str) -> None:
    async def scenario() -> None:
        box = {"value": 0}

        async def increment() -> None:
            value = box["value"]
            await asyncio.sleep(0)
            box["value"] = value + 1

        await asyncio.gather(increment(), increment())
        assert box["value"] == 2

    with pytest.raises(InterleavingFailure) as info:
        explore(
            scenario, strategy=strategy, runs=50, **({"seed": 1} if uses(strategy, "seed") else {})
        )
    assert isinstance(info.value.__cause__, AssertionError)
    assert info.value.token.startswith("pc1.")


def test_sleeping_480_seconds_takes_no_real_time() -> None:
    seen: list[tuple[float, float]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(480)
        seen.append((loop.time() - start, time.monotonic() - loop.time()))

    started = _realtime.monotonic()
    explore(scenario, strategy="dfs")
    assert _realtime.monotonic() - started < 5
    assert seen == [(480.0, 0.0)]


def test_timeouts_fire_at_their_exact_virtual_time() -> None:
    fired: list[float] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), 5)
        fired.append(loop.time() - start)
        if sys.version_info >= (3, 11):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(7):
                    await asyncio.sleep(3600)
            fired.append(loop.time() - start)

    explore(scenario, strategy="dfs")
    assert fired == ([5.0, 12.0] if sys.version_info >= (3, 11) else [5.0])


def test_timers_fire_in_due_order_whatever_the_schedule() -> None:
    async def scenario() -> None:
        fired: list[str] = []

        async def after(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            fired.append(name)

        await asyncio.gather(after("c", 30), after("a", 10), after("b", 20))
        assert fired == ["a", "b", "c"]

    assert explore(scenario, strategy="dfs", preemption_bound=3, runs=500).exhausted


async def _primitives() -> None:
    """Lock, Event, Condition, Semaphore, Queue, gather and wait_for, used correctly."""
    lock, ready, cond = asyncio.Lock(), asyncio.Event(), asyncio.Condition()
    semaphore, queue = asyncio.Semaphore(1), asyncio.Queue[int]()
    box = {"count": 0, "turn": 0}

    async def counter() -> None:
        async with lock:
            value = box["count"]
            await asyncio.sleep(0)
            box["count"] = value + 1

    async def producer() -> None:
        for item in range(3):
            await queue.put(item)
        await ready.wait()
        async with cond:
            box["turn"] = 1
            cond.notify_all()

    async def consumer() -> list[int]:
        got = [await queue.get() for _ in range(3)]
        ready.set()
        async with cond:
            await cond.wait_for(lambda: box["turn"] == 1)
        async with semaphore:
            return got

    results = await asyncio.gather(counter(), counter(), producer(), consumer())
    assert box["count"] == 2
    assert results[3] == [0, 1, 2]
    assert await asyncio.wait_for(asyncio.sleep(0, "done"), 1) == "done"


def test_asyncio_primitives_work_in_every_schedule() -> None:
    result = explore(_primitives, strategy="dfs", preemption_bound=1, runs=3000)
    assert result.exhausted
    assert result.schedules_run > 10


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is new in 3.11")
def test_task_groups_work_and_their_failures_surface() -> None:
    async def scenario() -> None:
        results: list[int] = []

        async def work(value: int) -> None:
            await asyncio.sleep(0)
            results.append(value)

        async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined]
            for value in range(3):
                group.create_task(work(value))
        assert sorted(results) == [0, 1, 2]

        async def fail() -> None:
            await asyncio.sleep(0)
            raise ValueError("boom")

        async def failing_group() -> None:
            async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined]
                group.create_task(fail())
                group.create_task(asyncio.sleep(60))

        with pytest.raises(vars(builtins)["ExceptionGroup"]):  # a name of 3.11+
            await failing_group()

    assert explore(scenario, strategy="dfs", preemption_bound=1, runs=2000).exhausted


def test_asyncio_run_in_a_plain_scenario_gets_a_controlled_loop() -> None:
    kinds: list[type] = []

    async def main() -> int:
        kinds.append(type(asyncio.get_running_loop()))
        await asyncio.sleep(10)
        return 5

    def scenario() -> None:
        assert asyncio.run(main()) == 5
        loop = asyncio.new_event_loop()
        kinds.append(type(loop))
        loop.close()

    explore(scenario, strategy="dfs")
    assert kinds == [ControlledLoop, ControlledLoop]
    outside = asyncio.new_event_loop()
    try:
        assert not isinstance(outside, ControlledLoop)
    finally:
        outside.close()


def test_tasks_left_running_are_cancelled_in_a_reproducible_order() -> None:
    names: list[list[str]] = []

    async def scenario() -> None:
        async def forever() -> None:
            await asyncio.Event().wait()

        for index in range(6):
            asyncio.ensure_future(forever()).set_name(f"w{index}")
        await asyncio.sleep(0)
        names.append([task.get_name() for task in asyncio.all_tasks()])

    result = explore(scenario, strategy="dfs", preemption_bound=1, runs=500)
    assert result.exhausted  # NondeterministicScenarioError if the cancellations varied
    # creation order: the main task (named by asyncio's process-wide counter) first
    assert all(order[1:] == [f"w{i}" for i in range(6)] for order in names)


def test_an_exception_in_a_callback_fails_the_run() -> None:
    def boom() -> None:
        raise ValueError("in a callback")

    async def scenario() -> None:
        asyncio.get_running_loop().call_soon(boom)
        await asyncio.sleep(0)

    with pytest.raises(InterleavingFailure, match="in a callback") as info:
        explore(scenario, strategy="dfs")
    assert isinstance(info.value.__cause__, ValueError)


def test_a_spinning_task_exhausts_the_step_budget_instead_of_hanging() -> None:
    async def scenario() -> None:
        while True:
            await asyncio.sleep(0)

    with pytest.raises(InterleavingFailure, match="max_steps=300"):
        explore(scenario, strategy="dfs", max_steps=300)


def test_real_io_is_refused_clearly() -> None:
    async def scenario() -> None:
        asyncio.get_running_loop().add_reader(0, print)

    with pytest.raises(InterleavingFailure) as info:
        explore(scenario, strategy="dfs")
    assert isinstance(info.value.__cause__, NotImplementedError)


def test_tasks_awaiting_each_other_are_a_deadlock_reported_task_by_task() -> None:
    async def scenario() -> None:
        lock, started = asyncio.Lock(), asyncio.Event()

        async def holder() -> None:
            async with lock:
                await started.wait()  # never set: the bug

        async def waiter() -> None:
            await asyncio.sleep(1)
            async with lock:
                started.set()

        await asyncio.gather(holder(), waiter())

    with pytest.raises(Deadlock) as info:
        explore(scenario, strategy="dfs")
    message = str(info.value)
    first = message.splitlines()[0]
    assert first.startswith("deadlock: asyncio tasks wait on futures nobody will resolve")
    assert "(holder) awaits asyncio.Event.wait at " in first
    assert "(waiter) awaits asyncio.Lock.acquire at " in first
    assert "awaits gather(task-2 (holder), task-3 (waiter))" in first
    assert "await started.wait()  # never set: the bug" in message  # the task's stack
    assert "virtual time is now +1 s" in message


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are new in 3.12")
def test_eager_tasks_are_explored_too() -> None:
    async def scenario() -> None:
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
        box: dict[str, Any] = {"value": 0}

        async def increment() -> None:
            value = box["value"]
            await asyncio.sleep(0)
            box["value"] = value + 1

        await asyncio.gather(increment(), increment())
        assert box["value"] == 2

    with pytest.raises(InterleavingFailure):
        explore(scenario, strategy="dfs")


async def _answer_beats_the_timeout() -> None:
    answer = asyncio.Event()

    async def answer_soon() -> None:
        await asyncio.sleep(0)
        answer.set()

    responder = asyncio.ensure_future(answer_soon())
    await asyncio.wait_for(answer.wait(), 5)  # TimeoutError if the timer fires first
    await responder


def test_a_timeout_fires_before_ready_work_only_with_timers_as_choices() -> None:
    assert explore(_answer_beats_the_timeout, strategy="dfs", runs=500).exhausted
    with pytest.raises(InterleavingFailure) as info:
        explore(_answer_beats_the_timeout, strategy="dfs", runs=500, timers="choice")
    assert isinstance(info.value.__cause__, asyncio.TimeoutError)
    assert "virtual time is now +5 s" in str(info.value)
