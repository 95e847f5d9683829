"""Asyncio subjects: coroutine operations, each thread a task on the controlled loop."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from subjects import total

import pytest_concurrency as pc
from reference_impl.keyed_store import KeyedStore

FEW = settings(max_examples=20, database=None, derandomize=True)


class AsyncCounter:
    """Reads, yields to the loop, writes: two tasks can both write the same count."""

    def __init__(self, lock: asyncio.Lock | None = None) -> None:
        self.value = 0
        self.lock = lock

    async def _bump(self) -> int:
        current = self.value
        await asyncio.sleep(0)
        self.value = current + 1
        return self.value

    async def increment(self) -> int:
        if self.lock is None:
            return await self._bump()
        async with self.lock:
            return await self._bump()


async def increment(counter: AsyncCounter) -> int:
    return await counter.increment()


def test_an_async_lost_update_is_caught_and_shrunk() -> None:
    with pytest.raises(pc.NotLinearizable) as caught:
        pc.check_linearizable(AsyncCounter, {"increment": increment}, settings=FEW)
    failure = caught.value
    assert total(failure.operations) == 2
    assert failure.strategy == "dpor"


def test_the_locked_async_counter_passes() -> None:
    result = pc.check_linearizable(
        lambda: AsyncCounter(asyncio.Lock()), {"increment": increment}, settings=FEW
    )
    assert result.exhausted


class MemoryBackend:
    """A backend that answers at once (it still yields to the loop once per call)."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    async def load(self, key: str) -> int:
        await asyncio.sleep(0)
        return self.data.get(key, 0)

    async def store(self, key: str, value: int) -> None:
        await asyncio.sleep(0)
        self.data[key] = value


class SequentialStore:
    """The keyed store's model: a dict whose missing keys read 0."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    async def get(self, key: str) -> int:
        return self.data.get(key, 0)

    async def save(self, key: str, value: int) -> None:
        self.data[key] = value


async def get(store: KeyedStore[str, int], key: str) -> int:
    return await store.get(key)


async def save(store: KeyedStore[str, int], key: str, value: int) -> None:
    await store.save(key, value)


def test_the_keyed_store_is_linearizable() -> None:
    result = pc.check_linearizable(
        lambda: KeyedStore(MemoryBackend()),
        {"get": (get, st.just("k")), "save": (save, st.just("k"), st.integers(1, 2))},
        model=SequentialStore,
        settings=settings(max_examples=8, database=None, derandomize=True),
    )
    assert result.exhausted


def test_a_model_that_waits_is_a_clear_error() -> None:
    class Waiting:
        async def increment(self) -> int:
            await asyncio.sleep(1)
            return 1

    with pytest.raises(pc.InterleavingFailure, match="must never wait"):
        pc.check_linearizable(AsyncCounter, {"increment": increment}, model=Waiting, settings=FEW)
