"""Demo section: each guard's original bug caught by its contract; each reference guard passing.

For every guard, a buggy one -- the reference guard with the original bug put
back -- is run against its contract's property for that bug, and the failing
interleaving's trace and replay token are shown; then the reference guard runs
against its whole contract. Both go through
:func:`~pytest_concurrency.contracts.run_contract`, which calls the very
methods pytest runs. The plugin's own suite (tests/contracts) reuses the buggy
guards and the reference-bound contract classes defined here.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pytest_concurrency import _realtime
from pytest_concurrency.contracts import (
    BuildOnceCacheContract,
    Contract,
    DeferredDeleterContract,
    FileCacheContract,
    KeyedStoreContract,
    OrderedTurnstileContract,
    RunGuardContract,
    SingleFlightContract,
    WorkerPoolContract,
    run_contract,
)
from pytest_concurrency.demo import Outcome
from pytest_concurrency.world.report import InterleavingFailure
from reference_impl import (
    ActiveRun,
    BuildOnceCache,
    DeferredDeleter,
    FileCache,
    KeyedStore,
    OrderedTurnstile,
    RunGuard,
    RunRejected,
    SingleFlight,
    Worker,
    WorkerPool,
    fingerprint,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
W = TypeVar("W", bound=Worker)


class NoRecheckCache(Generic[K, V]):
    """The cache-stampede fix without its re-check: a per-key lock, no second look inside it.

    A caller that queued on the lock while the first one loaded loads again.
    """

    def __init__(self, loader: Callable[[K], V]) -> None:
        self._loader = loader
        self._values: dict[K, V] = {}
        self._guard = threading.Lock()
        self._locks: dict[K, threading.Lock] = {}

    @property
    def lock_count(self) -> int:
        return len(self._locks)

    def get(self, key: K) -> V:
        if key in self._values:
            return self._values[key]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            value = self._values[key] = self._loader(key)  # the bug: no re-check first
            return value

    def invalidate(self, key: K) -> None:
        self._values.pop(key, None)


class ClearDropsHeldLock(Generic[K, V]):
    """The original config store: one asyncio.Lock per key; clear(key) drops entry *and* lock.

    Dropping a lock that a task holds lets the next caller create a new one and
    run beside the holder.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._cache: dict[K, V] = {}
        self._locks: dict[K, asyncio.Lock] = {}

    @property
    def lock_count(self) -> int:
        return len(self._locks)

    def _lock(self, key: K) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def get(self, key: K) -> V:
        async with self._lock(key):
            if key not in self._cache:
                self._cache[key] = await self._backend.load(key)
            return copy.deepcopy(self._cache[key])

    async def save(self, key: K, value: V) -> None:
        async with self._lock(key):
            await self._backend.store(key, copy.deepcopy(value))
            self._cache[key] = copy.deepcopy(value)

    def clear(self, key: K | None = None) -> None:
        if key is None:
            self._cache.clear()
            self._locks.clear()
        else:
            self._cache.pop(key, None)
            self._locks.pop(key, None)  # the bug: even when a task holds it


class NoTurnstile:
    """No turnstile at all: parallel segments run their merge step as they finish."""

    def __init__(self, keys: Iterable[Hashable], timeout: float = 600.0) -> None:
        self.keys = list(keys)

    def wait_turn(self, key: Hashable, timeout: float | None = None) -> bool:
        return True  # the bug: nobody waits for the earlier segments

    def complete(self, key: Hashable) -> None:
        pass

    @contextlib.contextmanager
    def turn(self, key: Hashable, timeout: float | None = None) -> Iterator[bool]:
        yield self.wait_turn(key, timeout)


class OneThreadPerItem(Generic[V]):
    """The original deferred deleter: each pending delete sleeps in a thread of its own."""

    def __init__(self, delete: Callable[[V], object]) -> None:
        self._delete = delete

    def schedule(self, item: V, delay: float) -> None:
        def sleep_then_delete() -> None:
            time.sleep(delay)  # the bug: one sleeping thread per item
            self._delete(item)

        threading.Thread(target=sleep_then_delete, daemon=True).start()

    def close(self) -> list[V]:
        return []  # the sleepers cannot be called back


class CheckOutsideTheLock(RunGuard):
    """A run guard whose slot is checked, the lock let go, then the slot taken: two runs get in."""

    def begin(self, operation_id: str, route: str, payload: object) -> ActiveRun:
        fp = fingerprint(route, payload)
        with self._lock:
            now = self._clock()
            self._expire_locked(now)
            busy, accepted_at = self._active, self._recent.get(fp)
        if busy is not None:
            raise RunRejected("in_flight", f"another run is in progress ({busy.operation_id})")
        if accepted_at is not None:
            raise RunRejected("duplicate", "an identical request was just accepted")
        with self._lock:  # the bug: another begin may have taken the slot meanwhile
            run = self._active = ActiveRun(operation_id, fp, now)
            self._recent[fp] = now
            return run


class SelectThenRelease(WorkerPool[K, W]):
    """A pool that picks an idle worker under the lock, lets go, then takes it: two may share it."""

    def claim(self, key: K) -> W | None:
        with self._cond:
            self._replenish_locked(key)
            idle = [slot for slot in self._slots[key] if not slot.busy]
        if not idle:
            return None
        with self._cond:  # the bug: another caller may have taken it meanwhile
            idle[0].busy = True
            return idle[0].worker


#: the guards under test here, traced wherever they are installed (the contracts' own
#: scenarios are traced too): the reference ones and this module's buggy ones
TRACED = ["reference_impl", __name__]


class ReferenceSingleFlight(SingleFlightContract):
    """``reference_impl.SingleFlight`` against its contract."""

    trace = TRACED

    def make_subject(self) -> Any:
        return SingleFlight()


class ReferenceBuildOnceCache(BuildOnceCacheContract):
    """``reference_impl.BuildOnceCache`` against its contract."""

    trace = TRACED

    def make_subject(self, loader: Callable[[Any], Any]) -> Any:
        return BuildOnceCache(loader)


class ReferenceFileCache(FileCacheContract):
    """``reference_impl.FileCache`` against its contract."""

    trace = TRACED

    def make_subject(self, directory: Path, build: Callable[[str], bytes]) -> Any:
        return FileCache(directory, build)


class ReferenceKeyedStore(KeyedStoreContract):
    """``reference_impl.KeyedStore`` against its contract."""

    trace = TRACED

    def make_subject(self, backend: Any) -> Any:
        return KeyedStore(backend)


class ReferenceOrderedTurnstile(OrderedTurnstileContract):
    """``reference_impl.OrderedTurnstile`` against its contract."""

    trace = TRACED

    def make_subject(self, keys: Iterable[Any], timeout: float) -> Any:
        return OrderedTurnstile(keys, timeout)


class ReferenceDeferredDeleter(DeferredDeleterContract):
    """``reference_impl.DeferredDeleter`` against its contract."""

    trace = TRACED

    def make_subject(self, delete: Callable[[Any], Any]) -> Any:
        return DeferredDeleter(delete)


class ReferenceRunGuard(RunGuardContract):
    """``reference_impl.RunGuard`` against its contract."""

    trace = TRACED

    def make_subject(self, dedup_window: float, max_run_seconds: float) -> Any:
        return RunGuard(dedup_window, max_run_seconds)


class ReferenceWorkerPool(WorkerPoolContract):
    """``reference_impl.WorkerPool`` against its contract: the contract's workers report the
    state names the pool reads, so nothing else is needed."""

    trace = TRACED

    def make_subject(self, factory: Callable[[Any], Any], per_key: int) -> Any:
        return WorkerPool(factory, per_key=per_key)


@dataclass(frozen=True)
class GuardCase:
    """One guard: its original bug, the property that catches it, and the reference's contract."""

    guard: str
    bug: str
    buggy: Callable[..., Any]
    reference: type[Contract]
    caught_by: str

    def buggy_contract(self) -> type[Contract]:
        return self.reference.for_subject(self.buggy)


CASES = (
    GuardCase(
        "a vocabulary cache",
        "per-key lock without the re-check inside it",
        NoRecheckCache,
        ReferenceBuildOnceCache,
        "test_loader_runs_once_per_key",
    ),
    GuardCase(
        "a per-key config store",
        "clear() drops a lock that a task holds",
        ClearDropsHeldLock,
        ReferenceKeyedStore,
        "test_clear_never_lets_two_holders_in",
    ),
    GuardCase(
        "an ordered turnstile",
        "no turnstile: segments merge as they finish",
        NoTurnstile,
        ReferenceOrderedTurnstile,
        "test_steps_run_in_key_order",
    ),
    GuardCase(
        "a deferred-deletion janitor",
        "one sleeping thread per pending delete",
        OneThreadPerItem,
        ReferenceDeferredDeleter,
        "test_one_thread_for_any_number_of_items",
    ),
    GuardCase(
        "a run guard",
        "run slot checked outside its lock",
        CheckOutsideTheLock,
        ReferenceRunGuard,
        "test_at_most_one_run_is_accepted",
    ),
    GuardCase(
        "a keyed worker pool",
        "select-then-release worker claim",
        SelectThenRelease,
        ReferenceWorkerPool,
        "test_no_worker_is_claimed_twice",
    ),
)

#: trace lines shown per caught bug
TRACE_LINES = 30


def _caught(case: GuardCase) -> Outcome:
    report = run_contract(case.buggy_contract(), properties=[case.caught_by])
    (result,) = report.results
    failure = result.exception
    caught = result.outcome == "failed"
    observed = f"{case.caught_by} failed" if caught else f"{case.caught_by} {result.outcome}"
    detail = result.message.splitlines()[0] if result.message else ""
    if isinstance(failure, InterleavingFailure):
        observed += f" after {failure.schedules_run} schedule(s)"
        detail = "\n".join(
            [detail, failure.trace.format(limit=TRACE_LINES), f"replay token: {failure.token}"]
        )
    return Outcome(
        name=f"{case.guard}: {case.bug}",
        expected="caught by its contract",
        observed=observed,
        ok=caught and isinstance(failure, InterleavingFailure),
        seconds=result.seconds,
        detail=detail,
    )


def _holds(contract: type[Contract], guard: str) -> Outcome:
    started = _realtime.perf_counter()
    report = run_contract(contract)
    held = len(report.named("passed"))
    return Outcome(
        name=f"{guard}: {contract.__name__}",
        expected="every property holds",
        observed=f"{held}/{len(report.results)} hold, {report.schedules} schedules explored",
        ok=report.ok,
        seconds=_realtime.perf_counter() - started,
        detail="" if report.ok else report.format(),
    )


TITLE = "Guards from real fixes and their contracts"


def run() -> list[Outcome]:
    outcomes: list[Outcome] = []
    for case in CASES:
        outcomes.append(_caught(case))
        outcomes.append(_holds(case.reference, case.guard))
    outcomes.append(_holds(ReferenceSingleFlight, "a vocabulary cache"))
    return outcomes
