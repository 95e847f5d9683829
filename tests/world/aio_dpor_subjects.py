"""Code under test for the reduction over asyncio task steps (traced as the scenario's file).

Each ``outcomes_of_*`` scenario records a result that depends on the order of
two tasks' operations on one asyncio object, so that a reduction that took
them to commute would miss a result bounded DFS reaches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from memory_subjects import Counter

Outcomes = list[object]
Scenario = Callable[[], Coroutine[Any, Any, None]]


def outcomes_of_lock_queries(outcomes: Outcomes) -> Scenario:
    """A task asks ``locked()`` while another holds the lock for one step."""

    async def scenario() -> None:
        lock = asyncio.Lock()

        async def holder() -> None:
            async with lock:
                await asyncio.sleep(0)

        async def asker() -> bool:
            return lock.locked()

        _, seen = await asyncio.gather(holder(), asker())
        outcomes.append(seen)

    return scenario


def outcomes_of_event_queries(outcomes: Outcomes) -> Scenario:
    """One task sets an event, another asks ``is_set()`` and waits for it."""

    async def scenario() -> None:
        event = asyncio.Event()
        seen: list[bool] = []

        async def setter() -> None:
            event.set()

        async def asker() -> None:
            seen.append(event.is_set())
            await event.wait()

        await asyncio.gather(asker(), setter())
        outcomes.append(tuple(seen))

    return scenario


def outcomes_of_queue_queries(outcomes: Outcomes) -> Scenario:
    """A producer puts while a consumer looks at ``qsize()`` and takes one item."""

    async def scenario() -> None:
        items: asyncio.Queue[int] = asyncio.Queue()
        seen: list[int] = []

        async def producer() -> None:
            items.put_nowait(1)
            await asyncio.sleep(0)
            items.put_nowait(2)

        async def consumer() -> None:
            seen.append(items.qsize())
            seen.append(await items.get())

        await asyncio.gather(consumer(), producer())
        outcomes.append(tuple(seen))

    return scenario


def outcomes_of_semaphore_queries(outcomes: Outcomes) -> Scenario:
    """Two tasks take the one unit of a semaphore; a third asks ``locked()`` in between."""

    async def scenario() -> None:
        units = asyncio.Semaphore(1)
        order: list[str] = []

        async def user(name: str) -> None:
            async with units:
                order.append(name)
                await asyncio.sleep(0)

        async def asker() -> None:
            order.append(f"locked={units.locked()}")

        await asyncio.gather(user("a"), user("b"), asker())
        outcomes.append(tuple(order))

    return scenario


def outcomes_of_task_queries(outcomes: Outcomes) -> Scenario:
    """A task asks another whether it is done while that one runs its last steps."""

    async def scenario() -> None:
        async def worker() -> None:
            await asyncio.sleep(0)

        work = asyncio.ensure_future(worker())
        seen: list[bool] = []

        async def watcher() -> None:
            seen.append(work.done())
            await asyncio.sleep(0)
            seen.append(work.done())

        await asyncio.gather(watcher(), work)
        outcomes.append(tuple(seen))

    return scenario


def thread_and_task(*, locked: bool) -> Scenario:
    """``asyncio.to_thread`` against a task: a lost update unless both take the lock."""

    async def scenario() -> None:
        box = Counter(locked)

        async def in_a_task() -> None:
            box.add()

        await asyncio.gather(asyncio.to_thread(box.add), in_a_task())
        assert box.value == 2, f"lost an update: {box.value}"

    return scenario


def two_tasks(*, locked: bool) -> Scenario:
    """Two tasks read, await, write back: the asyncio lost update, and its locked twin."""

    async def scenario() -> None:
        box = Counter(locked=False)
        lock = asyncio.Lock()

        async def add() -> None:
            if locked:
                async with lock:
                    value = box.value
                    await asyncio.sleep(0)
                    box.value = value + 1
            else:
                value = box.value
                await asyncio.sleep(0)
                box.value = value + 1

        await asyncio.gather(add(), add())
        assert box.value == 2, f"lost an update: {box.value}"

    return scenario


def benign_between_tasks() -> Scenario:
    """Two tasks write one attribute without a lock: an order to explore, never a data race."""

    async def scenario() -> None:
        box = Counter(locked=False)

        async def write(value: int) -> None:
            box.value = value

        await asyncio.gather(write(1), write(2))

    return scenario


def left_pending(closed: list[str]) -> Scenario:
    """A task awaits an event nobody sets: the run deadlocks with it pending."""

    async def scenario() -> None:
        never = asyncio.Event()

        async def waiter() -> None:
            try:
                await never.wait()
            finally:
                closed.append("closed")  # runs when the pending coroutine is closed

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        await task

    return scenario
