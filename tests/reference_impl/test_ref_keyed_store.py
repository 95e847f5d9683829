"""KeyedStore (seed 001 and its follow-ups), on one asyncio event loop.

The scenarios are deterministic without timers: tasks block on gates the test
opens, and ``_yield_to_all_tasks`` only lets every ready task run to its next
suspension.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from ref_helpers import TIMEOUT

from reference_impl import KeyedStore


async def _yield_to_all_tasks() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class GatedBackend:
    """An in-memory backend whose loads and stores can be held at a gate.

    It records the highest number of stores that overlapped: per-key mutual
    exclusion means it stays at 1.
    """

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self.loads = 0
        self.stores: list[Any] = []
        self.load_gate: asyncio.Event | None = None
        self.store_gates: dict[Any, asyncio.Event] = {}
        self.active_stores = 0
        self.max_active_stores = 0
        self.fail_store = False

    async def load(self, key: str) -> Any:
        self.loads += 1
        value = self.data.get(key, {"default": True})
        if self.load_gate is not None:
            await self.load_gate.wait()
        return value

    async def store(self, key: str, value: Any) -> None:
        self.active_stores += 1
        self.max_active_stores = max(self.max_active_stores, self.active_stores)
        try:
            gate = self.store_gates.get(value["v"]) if isinstance(value, dict) else None
            if gate is not None:
                await gate.wait()
            else:
                await asyncio.sleep(0)  # a real await: others may run meanwhile
            if self.fail_store:
                raise ConnectionError("backend down")
            self.data[key] = value
            self.stores.append(value)
        finally:
            self.active_stores -= 1


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))


def test_get_loads_once_then_serves_copies() -> None:
    async def scenario() -> None:
        backend = GatedBackend({"docs": {"top_k": 5}})
        store: KeyedStore[str, Any] = KeyedStore(backend)
        first = await store.get("docs")
        first["top_k"] = 999  # the caller's copy, not the cache
        assert await store.get("docs") == {"top_k": 5}
        assert backend.loads == 1
        assert store.lock_count == 0

    run(scenario)


def test_save_stores_a_copy_taken_at_call_time() -> None:
    async def scenario() -> None:
        backend = GatedBackend()
        store: KeyedStore[str, Any] = KeyedStore(backend)
        cfg = {"v": 1}
        await store.save("docs", cfg)
        cfg["v"] = 2  # mutating after save changes neither cache nor backend
        assert await store.get("docs") == {"v": 1}
        assert backend.data["docs"] == {"v": 1}
        assert backend.loads == 0  # a save fills the cache

    run(scenario)


def test_the_newest_save_wins_in_cache_and_backend() -> None:
    async def scenario() -> None:
        backend = GatedBackend()
        backend.store_gates[1] = asyncio.Event()
        store: KeyedStore[str, Any] = KeyedStore(backend)
        older = asyncio.create_task(store.save("docs", {"v": 1}))
        await _yield_to_all_tasks()  # the older save holds the lock, inside the backend
        newer = asyncio.create_task(store.save("docs", {"v": 2}))
        await _yield_to_all_tasks()
        backend.store_gates[1].set()
        await asyncio.gather(older, newer)
        assert backend.stores == [{"v": 1}, {"v": 2}]
        assert await store.get("docs") == {"v": 2}
        assert backend.max_active_stores == 1

    run(scenario)


def test_a_get_queued_behind_a_save_returns_the_saved_value_without_loading() -> None:
    async def scenario() -> None:
        backend = GatedBackend({"docs": {"v": 0}})
        backend.store_gates[1] = asyncio.Event()
        store: KeyedStore[str, Any] = KeyedStore(backend)
        save = asyncio.create_task(store.save("docs", {"v": 1}))
        await _yield_to_all_tasks()
        get = asyncio.create_task(store.get("docs"))  # misses, queues on the lock
        await _yield_to_all_tasks()
        backend.store_gates[1].set()
        await save
        assert await get == {"v": 1}  # not the stale {"v": 0} from the backend
        assert backend.loads == 0

    run(scenario)


def test_a_load_overlapping_clear_does_not_install_stale_data() -> None:
    async def scenario() -> None:
        backend = GatedBackend({"docs": {"v": "old"}})
        backend.load_gate = asyncio.Event()
        store: KeyedStore[str, Any] = KeyedStore(backend)
        get = asyncio.create_task(store.get("docs"))
        await _yield_to_all_tasks()  # the load has read "old" and is parked
        backend.data["docs"] = {"v": "new"}  # a hot reload changes the source...
        store.clear("docs")  # ...and invalidates the cache
        backend.load_gate.set()
        assert await get == {"v": "old"}  # read before the clear: fine to return
        assert await store.get("docs") == {"v": "new"}  # but never installed
        assert backend.loads == 2

    run(scenario)


def test_clear_never_splits_mutual_exclusion_on_a_held_lock() -> None:
    async def scenario() -> None:
        backend = GatedBackend()
        backend.store_gates[1] = asyncio.Event()
        store: KeyedStore[str, Any] = KeyedStore(backend)
        holder = asyncio.create_task(store.save("docs", {"v": 1}))
        await _yield_to_all_tasks()
        store.clear("docs")
        store.clear()
        latecomer = asyncio.create_task(store.save("docs", {"v": 2}))
        await _yield_to_all_tasks()
        assert backend.max_active_stores == 1  # the latecomer is still waiting
        backend.store_gates[1].set()
        await asyncio.gather(holder, latecomer)
        assert backend.max_active_stores == 1
        assert backend.stores == [{"v": 1}, {"v": 2}]
        assert store.lock_count == 0

    run(scenario)


def test_clear_never_drops_a_lock_whose_woken_waiter_has_not_resumed() -> None:
    """Right after a release, ``lock.locked()`` is False but the next waiter owns the turn."""

    async def scenario() -> None:
        backend = GatedBackend()
        backend.store_gates[1] = asyncio.Event()
        backend.store_gates[2] = asyncio.Event()
        store: KeyedStore[str, Any] = KeyedStore(backend)
        third: list[asyncio.Task[None]] = []

        async def save_then_clear_then_save() -> None:
            await store.save("docs", {"v": 1})
            # the waiter below was just woken but has not run yet: clear now
            store.clear("docs")
            third.append(asyncio.create_task(store.save("docs", {"v": 3})))

        first = asyncio.create_task(save_then_clear_then_save())
        await _yield_to_all_tasks()
        second = asyncio.create_task(store.save("docs", {"v": 2}))
        await _yield_to_all_tasks()
        backend.store_gates[1].set()
        await first
        await _yield_to_all_tasks()  # the second save is inside the backend, gated
        assert backend.max_active_stores == 1  # the third did not get a fresh lock
        backend.store_gates[2].set()
        await asyncio.gather(second, *third)
        assert backend.stores == [{"v": 1}, {"v": 2}, {"v": 3}]
        assert await store.get("docs") == {"v": 3}
        assert store.lock_count == 0

    run(scenario)


def test_lock_count_follows_holders_and_waiters_and_returns_to_zero() -> None:
    async def scenario() -> None:
        backend = GatedBackend()
        backend.store_gates[1] = asyncio.Event()
        store: KeyedStore[str, Any] = KeyedStore(backend)
        for n in range(100):  # short-lived keys leave nothing behind
            await store.save(f"corpus-{n}", {"v": 0})
        assert store.lock_count == 0
        holder = asyncio.create_task(store.save("a", {"v": 1}))
        waiter = asyncio.create_task(store.save("a", {"v": 5}))
        await _yield_to_all_tasks()
        assert store.lock_count == 1
        waiter.cancel()  # a cancelled waiter gives its reference back
        await _yield_to_all_tasks()
        backend.store_gates[1].set()
        await holder
        assert waiter.cancelled()
        assert store.lock_count == 0

    run(scenario)


def test_a_failed_store_drops_the_cache_entry() -> None:
    async def scenario() -> None:
        backend = GatedBackend({"docs": {"v": "stored"}})
        store: KeyedStore[str, Any] = KeyedStore(backend)
        assert await store.get("docs") == {"v": "stored"}
        backend.fail_store = True
        with pytest.raises(ConnectionError):
            await store.save("docs", {"v": "lost"})
        backend.fail_store = False
        assert await store.get("docs") == {"v": "stored"}  # reloaded, not assumed
        assert backend.loads == 2
        assert store.lock_count == 0

    run(scenario)


def test_clear_all_drops_every_cached_value() -> None:
    async def scenario() -> None:
        backend = GatedBackend({"a": 1, "b": 2})
        store: KeyedStore[str, Any] = KeyedStore(backend)
        assert (await store.get("a"), await store.get("b")) == (1, 2)
        store.clear()
        assert (await store.get("a"), await store.get("b")) == (1, 2)
        assert backend.loads == 4

    run(scenario)


def test_the_copy_function_is_injectable() -> None:
    async def scenario() -> None:
        copies: list[Any] = []

        def tracking_copy(value: Any) -> Any:
            copies.append(value)
            return dict(value)

        store: KeyedStore[str, Any] = KeyedStore(GatedBackend(), copy=tracking_copy)
        await store.save("k", {"v": 1})
        assert await store.get("k") == {"v": 1}
        assert len(copies) == 3  # snapshot, backend's copy, caller's copy

    run(scenario)


def test_keyed_store_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="backend must have async load"):
        KeyedStore(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="copy must be callable"):
        KeyedStore(GatedBackend(), copy=None)  # type: ignore[arg-type]
    store: KeyedStore[Any, Any] = KeyedStore(GatedBackend())

    async def scenario() -> None:
        with pytest.raises(TypeError, match="key must be hashable"):
            await store.get(["docs"])
        with pytest.raises(TypeError, match="key must be hashable"):
            await store.save({"docs"}, 1)

    run(scenario)
    with pytest.raises(TypeError, match="key must be hashable"):
        store.clear([])
