"""asyncio and threads as one world: to_thread, run_in_executor, call_soon_threadsafe."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest

from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import Deadlock, InterleavingFailure
from pytest_concurrency.world.strategies import uses


class _Counter:
    def __init__(self, locked: bool) -> None:
        self.value = 0
        self._lock = threading.Lock() if locked else None

    def _add(self) -> None:
        value = self.value
        time.sleep(1)  # blocking I/O in the worker: a scheduling point, no real time
        self.value = value + 1

    def add(self) -> None:
        if self._lock is None:
            self._add()
            return
        with self._lock:
            self._add()


async def _two_to_thread_calls(locked: bool) -> None:
    counter = _Counter(locked)
    await asyncio.gather(asyncio.to_thread(counter.add), asyncio.to_thread(counter.add))
    assert counter.value == 2


@pytest.mark.parametrize("strategy", ["pct", "random", "dfs"])
def test_a_race_between_to_thread_workers_is_found(strategy: str) -> None:
    async def scenario() -> None:
        await _two_to_thread_calls(locked=False)

    with pytest.raises(InterleavingFailure) as info:
        explore(
            scenario, strategy=strategy, runs=50, **({"seed": 1} if uses(strategy, "seed") else {})
        )
    workers = {step.thread for step in info.value.trace if "asyncio_" in step.thread}
    assert workers == {"T1 asyncio_0", "T2 asyncio_1"}


def test_the_locked_twin_survives_exhaustive_exploration() -> None:
    async def scenario() -> None:
        await _two_to_thread_calls(locked=True)

    # the executor's own locks and queues make each schedule long: bound 1 is ~600 schedules
    result = explore(scenario, strategy="dfs", preemption_bound=1, runs=5000)
    assert result.exhausted
    assert result.schedules_run > 100


def test_run_in_executor_with_an_executor_of_the_scenario() -> None:
    seen: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            name = await loop.run_in_executor(pool, lambda: threading.current_thread().name)
        seen.append(name)

    assert explore(scenario, strategy="dfs", runs=500).exhausted
    assert seen and all(name.startswith("ThreadPoolExecutor") for name in seen)


def test_a_thread_handing_work_to_the_loop_is_interleaved_with_its_tasks() -> None:
    orders: set[tuple[str, ...]] = set()

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        log: list[str] = []
        delivered = asyncio.Event()

        def from_thread() -> None:
            loop.call_soon_threadsafe(log.append, "thread")
            loop.call_soon_threadsafe(delivered.set)

        async def task() -> None:
            log.append("task-1")
            await asyncio.sleep(0)
            log.append("task-2")

        worker = threading.Thread(target=from_thread)
        worker.start()
        await asyncio.gather(task(), delivered.wait())
        worker.join()
        orders.add(tuple(log))

    assert explore(scenario, strategy="dfs", preemption_bound=2, runs=2000).exhausted
    assert {order.index("thread") for order in orders} == {0, 1, 2}


def test_a_task_and_a_thread_waiting_on_each_other_are_a_deadlock() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        go = threading.Event()
        answer = loop.create_future()

        def worker() -> None:
            go.wait()  # set only after the answer arrives: never
            loop.call_soon_threadsafe(answer.set_result, 42)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        await answer
        go.set()

    with pytest.raises(Deadlock) as info:
        explore(scenario, strategy="dfs")
    message = str(info.value)
    assert "awaits a Future at " in message.splitlines()[0]
    assert "T1 (worker) waits on Event#1" in message
