"""BuildOnceCache with seed 000's bugs put back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from pytest_concurrency.demo.contracts_demo import NoRecheckCache
from reference_impl import BuildOnceCache

from . import mutant
from .single_flight_mutants import LockRegistryGrows, OneBuildLockForAllKeys, WaitersRetryAfterError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class EveryCallerLoads(Generic[K, V]):
    """Seed 000's original bug: check the cache, load on a miss, no lock at all."""

    def __init__(self, loader: Callable[[K], V]) -> None:
        self._loader = loader
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V:
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = self._loader(key)
        with self._lock:
            self._values[key] = value
        return value

    def invalidate(self, key: K) -> None:
        with self._lock:
            self._values.pop(key, None)


class SeedFixCache(NoRecheckCache[K, V]):
    """Seed 000's merged fix: lock and re-check; failures retried by each waiter, locks kept."""

    def get(self, key: K) -> V:
        if key in self._values:
            return self._values[key]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._values:
                return self._values[key]
            value = self._values[key] = self._loader(key)
            return value


class WaitersReloadAfterError(BuildOnceCache[K, V]):
    """A failed load is not shared: each waiter loads again."""

    def __init__(self, loader: Callable[[K], V]) -> None:
        super().__init__(loader)
        self._flight = WaitersRetryAfterError()


class LockRegistryGrowsCache(BuildOnceCache[K, V]):
    """One lock per key ever loaded, never removed."""

    def __init__(self, loader: Callable[[K], V]) -> None:
        super().__init__(loader)
        self._flight = self._growing = LockRegistryGrows()

    @property
    def lock_count(self) -> int:
        return self._growing.lock_count


class OneLockForAllKeys(BuildOnceCache[K, V]):
    """One build lock for every key: a slow key blocks all the others."""

    def __init__(self, loader: Callable[[K], V]) -> None:
        super().__init__(loader)
        self._flight = OneBuildLockForAllKeys()


class StaleInstallAfterInvalidate(BuildOnceCache[K, V]):
    """invalidate() does not revoke the load in flight, which then installs its stale value."""

    def invalidate(self, key: K) -> None:
        with self._lock:
            self._flight.forget(key)
            self._values.pop(key, None)  # the bug: no self._tickets.revoke(key)


MUTANTS = (
    mutant(
        EveryCallerLoads,
        "seed 000 original",
        "no lock: every cold caller loads",
        "test_loader_runs_once_per_key",
        "test_overlapping_callers_share_the_loaders_error",
        "test_invalidate_wins_over_a_load_in_flight",
    ),
    mutant(
        NoRecheckCache,
        "seed 000 original",
        "per-key lock without the re-check inside it",
        "test_loader_runs_once_per_key",
        "test_overlapping_callers_share_the_loaders_error",
        "test_invalidate_wins_over_a_load_in_flight",
        "test_registry_returns_to_baseline",
    ),
    mutant(
        SeedFixCache,
        "seed 000 review",
        "the merged fix: failures retried by each waiter, locks never removed",
        "test_overlapping_callers_share_the_loaders_error",
        "test_invalidate_wins_over_a_load_in_flight",
        "test_registry_returns_to_baseline",
    ),
    mutant(
        WaitersReloadAfterError,
        "issue 5 residual",
        "waiters load again after a failed load",
        "test_overlapping_callers_share_the_loaders_error",
    ),
    mutant(
        LockRegistryGrowsCache,
        "issue 5 residual",
        "the per-key lock registry only grows",
        "test_registry_returns_to_baseline",
    ),
    mutant(
        OneLockForAllKeys,
        "seed 000 review",
        "one lock for every key: keys do not load in parallel",
        "test_different_keys_load_in_parallel",
    ),
    mutant(
        StaleInstallAfterInvalidate,
        "issue 5 residual",
        "a load in flight installs its stale value after invalidate()",
        "test_invalidate_wins_over_a_load_in_flight",
    ),
)
