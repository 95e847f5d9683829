"""SingleFlight with seed 000's bugs put back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from reference_impl import SingleFlight
from reference_impl.single_flight import _ABANDONED

from . import mutant

T = TypeVar("T")


class EveryCallerRuns:
    """Seed 000's original bug: no single flight at all, every cold caller runs the build."""

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        return fn()


class SerialisedNotShared:
    """Seed 000's per-key lock without a re-check: callers take turns, each running fn."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}

    @property
    def lock_count(self) -> int:
        return len(self._locks)

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return fn()


class WaitersRetryAfterError(SingleFlight):
    """Seed 000's fix left this: a failed build is retried by each waiter in turn."""

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        while True:
            flight, leader = self._table.join(key)
            if leader:
                with self._table.leading(key, flight):
                    value = flight.value = fn()
                return value
            flight.done.wait()
            if flight.error is not None:
                continue  # the bug: the waiter runs fn itself instead of raising
            outcome: Any = flight.outcome()
            if outcome is not _ABANDONED:
                return outcome  # type: ignore[no-any-return]


class OneBuildLockForAllKeys(SingleFlight):
    """One global build lock instead of one per key: keys wait for each other."""

    def __init__(self) -> None:
        super().__init__()
        self._all = threading.Lock()

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        def locked() -> T:
            with self._all:
                return fn()

        return super().do(key, locked)


class LockRegistryGrows(SingleFlight):
    """Seed 000's lock registry: one lock per key ever seen, never removed."""

    def __init__(self) -> None:
        super().__init__()
        self._registry_lock = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}

    @property
    def lock_count(self) -> int:
        return len(self._locks)

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        with self._registry_lock:
            lock = self._locks.setdefault(key, threading.Lock())

        def locked() -> T:
            with lock:
                return fn()

        return super().do(key, locked)


class FinishedCallsKept(SingleFlight):
    """Finished calls stay registered: later callers get an old result (a cache, not a flight)."""

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        flight, leader = self._table.join(key)
        if not leader:
            flight.done.wait()
            return flight.outcome()  # type: ignore[no-any-return]
        try:
            value = flight.value = fn()
        except Exception as error:
            flight.error = error
            raise
        finally:
            flight.done.set()  # the bug: the entry is never removed from the table
        return value


MUTANTS = (
    mutant(
        EveryCallerRuns,
        "seed 000 original",
        "no single flight: every overlapping caller runs fn",
        "test_overlapping_callers_share_one_call",
        "test_overlapping_callers_share_the_error",
    ),
    mutant(
        SerialisedNotShared,
        "seed 000 review",
        "per-key lock without a re-check: callers take turns running fn; locks never removed",
        "test_overlapping_callers_share_one_call",
        "test_overlapping_callers_share_the_error",
        "test_registry_returns_to_baseline",
    ),
    mutant(
        WaitersRetryAfterError,
        "issue 5 residual",
        "waiters retry a failed call instead of receiving its exception",
        "test_overlapping_callers_share_the_error",
    ),
    mutant(
        OneBuildLockForAllKeys,
        "seed 000 review",
        "one build lock for every key: keys wait for each other",
        "test_different_keys_run_in_parallel",
    ),
    mutant(
        LockRegistryGrows,
        "issue 5 residual",
        "the per-key lock registry only grows",
        "test_registry_returns_to_baseline",
    ),
    mutant(
        FinishedCallsKept,
        "issue 5 residual",
        "finished calls stay registered: a later call gets the old result or error",
        "test_a_later_call_runs_again",
        "test_registry_returns_to_baseline",
    ),
)
