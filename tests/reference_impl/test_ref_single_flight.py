"""SingleFlight, AsyncSingleFlight and BuildOnceCache (seed 000), on real threads and tasks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from ref_helpers import TIMEOUT, Spawned, WaitObserver

from reference_impl import AsyncSingleFlight, BuildOnceCache, SingleFlight

SpawnFn = Callable[..., Spawned]


class Abort(BaseException):
    """Stands for KeyboardInterrupt / SystemExit hitting the leader."""


class GatedCalls:
    """A function that counts its calls and blocks each until the gate opens."""

    def __init__(self, result: Callable[[int], Any] = lambda n: f"value-{n}") -> None:
        self.calls = 0
        self.gate = threading.Event()
        self.entered = threading.Event()
        self._lock = threading.Lock()
        self._result = result

    def __call__(self, *args: object) -> Any:
        with self._lock:
            self.calls += 1
            n = self.calls
        self.entered.set()
        assert self.gate.wait(TIMEOUT), "gate never opened"
        return self._result(n)


# --- SingleFlight -----------------------------------------------------------------


def test_overlapping_callers_share_one_call_and_its_result(
    spawn: SpawnFn, observe_events: WaitObserver
) -> None:
    flight = SingleFlight()
    fn = GatedCalls()
    threads = [spawn(flight.do, "k", fn) for _ in range(5)]
    assert fn.entered.wait(TIMEOUT)
    observe_events.wait_for_waiters(4)  # the other four joined the call in flight
    fn.gate.set()
    assert [t.result() for t in threads] == ["value-1"] * 5
    assert fn.calls == 1
    assert flight.in_flight == 0


def test_waiters_get_the_leaders_exception_object(
    spawn: SpawnFn, observe_events: WaitObserver
) -> None:
    flight = SingleFlight()
    failure = RuntimeError("encoder crashed")

    def fail(n: int) -> Any:
        raise failure

    fn = GatedCalls(fail)
    threads = [spawn(flight.do, "k", fn) for _ in range(3)]
    assert fn.entered.wait(TIMEOUT)
    observe_events.wait_for_waiters(2)
    fn.gate.set()
    for thread in threads:
        with pytest.raises(RuntimeError) as info:
            thread.result()
        assert info.value is failure
    assert fn.calls == 1


def test_a_call_after_the_previous_one_finished_runs_again() -> None:
    flight = SingleFlight()
    calls: list[str] = []

    def call(result: str) -> str:
        calls.append(result)
        return result

    assert flight.do("k", lambda: call("a")) == "a"
    assert flight.do("k", lambda: call("b")) == "b"
    assert calls == ["a", "b"]


def test_different_keys_run_in_parallel(spawn: SpawnFn) -> None:
    flight = SingleFlight()
    a_started, b_started = threading.Event(), threading.Event()

    def build_a() -> str:
        a_started.set()
        assert b_started.wait(TIMEOUT), "key b never ran while key a was building"
        return "a"

    def build_b() -> str:
        b_started.set()
        assert a_started.wait(TIMEOUT), "key a never ran while key b was building"
        return "b"

    a, b = spawn(flight.do, "a", build_a), spawn(flight.do, "b", build_b)
    assert (a.result(), b.result()) == ("a", "b")


def test_an_interrupted_leader_abandons_the_call_and_a_waiter_takes_over(
    spawn: SpawnFn, observe_events: WaitObserver
) -> None:
    flight = SingleFlight()
    calls = 0
    entered, gate = threading.Event(), threading.Event()

    def fn() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            entered.set()
            assert gate.wait(TIMEOUT)
            raise Abort
        return "rebuilt"

    leader = spawn(flight.do, "k", fn)
    assert entered.wait(TIMEOUT)
    waiter = spawn(flight.do, "k", fn)
    observe_events.wait_for_waiters(1)
    gate.set()
    with pytest.raises(Abort):
        leader.result()
    assert waiter.result() == "rebuilt"  # not the leader's interruption
    assert calls == 2


def test_forget_lets_the_next_call_start_while_one_is_in_flight(spawn: SpawnFn) -> None:
    flight = SingleFlight()
    fn = GatedCalls()
    first = spawn(flight.do, "k", fn)
    assert fn.entered.wait(TIMEOUT)
    flight.forget("k")
    assert flight.do("k", lambda: "fresh") == "fresh"
    fn.gate.set()
    assert first.result() == "value-1"
    assert flight.in_flight == 0


def test_single_flight_rejects_bad_arguments() -> None:
    flight = SingleFlight()
    with pytest.raises(TypeError, match="key must be hashable"):
        flight.do(["not", "hashable"], lambda: 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fn must be callable"):
        flight.do("k", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be hashable"):
        flight.forget({})  # type: ignore[arg-type]


# --- AsyncSingleFlight --------------------------------------------------------------


async def _yield_to_all_tasks() -> None:
    """Let every ready task run to its next suspension (no timer involved)."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_async_overlapping_callers_share_one_call() -> None:
    async def scenario() -> None:
        flight = AsyncSingleFlight()
        gate = asyncio.Event()
        calls = 0

        async def fn() -> str:
            nonlocal calls
            calls += 1
            await gate.wait()
            return "shared"

        tasks = [asyncio.create_task(flight.do("k", fn)) for _ in range(5)]
        await _yield_to_all_tasks()
        assert flight.in_flight == 1
        gate.set()
        assert await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT) == ["shared"] * 5
        assert calls == 1
        assert flight.in_flight == 0

    asyncio.run(scenario())


def test_async_waiters_get_the_leaders_exception_and_a_later_call_runs_again() -> None:
    async def scenario() -> None:
        flight = AsyncSingleFlight()
        gate = asyncio.Event()
        failure = ValueError("bad vocab")

        async def fail() -> str:
            await gate.wait()
            raise failure

        tasks = [asyncio.create_task(flight.do("k", fail)) for _ in range(3)]
        await _yield_to_all_tasks()
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(r is failure for r in results)

        async def ok() -> str:
            return "ok"

        assert await flight.do("k", ok) == "ok"

    asyncio.run(scenario())


def test_async_cancelled_waiter_does_not_disturb_the_others() -> None:
    async def scenario() -> None:
        flight = AsyncSingleFlight()
        gate = asyncio.Event()

        async def fn() -> str:
            await gate.wait()
            return "v"

        leader = asyncio.create_task(flight.do("k", fn))
        quitter = asyncio.create_task(flight.do("k", fn))
        stayer = asyncio.create_task(flight.do("k", fn))
        await _yield_to_all_tasks()
        quitter.cancel()
        await _yield_to_all_tasks()
        gate.set()
        assert list(await asyncio.wait_for(asyncio.gather(leader, stayer), TIMEOUT)) == ["v"] * 2
        assert quitter.cancelled()

    asyncio.run(scenario())


def test_async_cancelled_leader_hands_the_call_to_a_waiter() -> None:
    async def scenario() -> None:
        flight = AsyncSingleFlight()
        gate = asyncio.Event()
        calls = 0

        async def fn() -> str:
            nonlocal calls
            calls += 1
            await gate.wait()
            return f"run-{calls}"

        leader = asyncio.create_task(flight.do("k", fn))
        await _yield_to_all_tasks()
        waiter = asyncio.create_task(flight.do("k", fn))
        await _yield_to_all_tasks()
        leader.cancel()
        await _yield_to_all_tasks()
        gate.set()
        assert await asyncio.wait_for(waiter, TIMEOUT) == "run-2"
        assert leader.cancelled()
        assert flight.in_flight == 0

    asyncio.run(scenario())


def test_async_single_flight_rejects_bad_arguments() -> None:
    async def scenario() -> None:
        flight = AsyncSingleFlight()
        with pytest.raises(TypeError, match="key must be hashable"):
            await flight.do([], asyncio.sleep)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="fn must be callable"):
            await flight.do("k", 3)  # type: ignore[arg-type]

    asyncio.run(scenario())


# --- BuildOnceCache -------------------------------------------------------------------


def test_seed_000_concurrent_cold_callers_build_once(
    spawn: SpawnFn, observe_events: WaitObserver
) -> None:
    """Seed 000's own test: 4 threads on a cold cache, a gated encoder, one encode."""
    encoder = GatedCalls(lambda n: f"embeddings-{n}")
    cache: BuildOnceCache[str, str] = BuildOnceCache(encoder)
    threads = [spawn(cache.get, "clip-vit") for _ in range(4)]
    assert encoder.entered.wait(TIMEOUT)
    observe_events.wait_for_waiters(3)
    encoder.gate.set()
    assert {t.result() for t in threads} == {"embeddings-1"}
    assert cache.get("clip-vit") == "embeddings-1"
    assert encoder.calls == 1
    assert cache.lock_count == 0


def test_different_keys_load_in_parallel(spawn: SpawnFn) -> None:
    started = {"a": threading.Event(), "b": threading.Event()}

    def loader(key: str) -> str:
        started[key].set()
        other = "b" if key == "a" else "a"
        assert started[other].wait(TIMEOUT), f"{other} did not load while {key} was loading"
        return key.upper()

    cache: BuildOnceCache[str, str] = BuildOnceCache(loader)
    a, b = spawn(cache.get, "a"), spawn(cache.get, "b")
    assert (a.result(), b.result()) == ("A", "B")


def test_a_failed_load_reaches_overlapping_callers_and_is_not_cached(
    spawn: SpawnFn, observe_events: WaitObserver
) -> None:
    def fail_first(n: int) -> str:
        if n == 1:
            raise OSError("disk full")
        return "loaded"

    loader = GatedCalls(fail_first)
    cache: BuildOnceCache[str, str] = BuildOnceCache(loader)
    threads = [spawn(cache.get, "k") for _ in range(3)]
    assert loader.entered.wait(TIMEOUT)
    observe_events.wait_for_waiters(2)
    loader.gate.set()
    for thread in threads:
        with pytest.raises(OSError, match="disk full"):
            thread.result()
    assert loader.calls == 1  # the waiters did not retry one after another
    assert cache.get("k") == "loaded"


def test_lock_registry_returns_to_baseline_after_many_keys() -> None:
    cache: BuildOnceCache[int, int] = BuildOnceCache(lambda k: k * k)
    assert [cache.get(k) for k in range(200)] == [k * k for k in range(200)]
    assert cache.lock_count == 0


def test_reload_after_a_miss_that_raced_an_install_is_avoided() -> None:
    """The re-check inside the build: a caller that missed just before the install."""
    loads: list[str] = []

    def load(key: str) -> str:
        loads.append(key)
        return "v"

    cache: BuildOnceCache[str, str] = BuildOnceCache(load)
    assert cache.get("k") == "v"

    class MissOnce(dict[str, str]):
        """The hot-path read misses once, as if it ran just before the install."""

        missed = False

        def __getitem__(self, key: str) -> str:
            if not self.missed:
                self.missed = True
                raise KeyError(key)
            return super().__getitem__(key)

    cache._values = MissOnce(cache._values)
    assert cache.get("k") == "v"
    assert loads == ["k"]


def test_invalidate_during_a_load_keeps_the_stale_result_out(spawn: SpawnFn) -> None:
    calls = 0
    entered, gate = threading.Event(), threading.Event()

    def load(key: str) -> str:
        nonlocal calls
        calls += 1
        n = calls
        if n == 1:  # the first load reads the old data, slowly
            entered.set()
            assert gate.wait(TIMEOUT)
        return f"v{n}"

    cache: BuildOnceCache[str, str] = BuildOnceCache(load)
    old = spawn(cache.get, "k")
    assert entered.wait(TIMEOUT)
    cache.invalidate("k")
    assert cache.get("k") == "v2"  # a fresh load, not a share of the one in flight
    gate.set()
    assert old.result() == "v1"  # its own callers still get it...
    assert cache.get("k") == "v2"  # ...but it did not overwrite the newer value
    assert calls == 2
    assert cache.lock_count == 0


def test_invalidate_drops_a_cached_value() -> None:
    version = 0

    def load(key: str) -> int:
        nonlocal version
        version += 1
        return version

    cache: BuildOnceCache[str, int] = BuildOnceCache(load)
    assert cache.get("k") == 1
    cache.invalidate("k")
    cache.invalidate("never-loaded")
    assert cache.get("k") == 2


def test_build_once_cache_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="loader must be callable"):
        BuildOnceCache(None)  # type: ignore[arg-type]
    cache: BuildOnceCache[Any, int] = BuildOnceCache(lambda k: 1)
    with pytest.raises(TypeError, match="key must be hashable"):
        cache.get(["a"])
    with pytest.raises(TypeError, match="key must be hashable"):
        cache.invalidate({"a": 1})
