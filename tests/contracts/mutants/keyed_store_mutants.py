"""KeyedStore with seed 001's bugs put back."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

from pytest_concurrency.demo.contracts_demo import ClearDropsHeldLock
from reference_impl import KeyedStore
from reference_impl.keyed_store import _MISSING

from . import mutant

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ClearDropsReleasedLock(ClearDropsHeldLock[K, V]):
    """clear() drops a key's lock only if it is not locked -- but a woken waiter has not resumed
    yet."""

    def clear(self, key: K | None = None) -> None:
        if key is None:
            super().clear()
            return
        self._cache.pop(key, None)
        lock = self._locks.get(key)
        if lock is not None and not lock.locked():  # the bug: a waiter may be about to hold it
            del self._locks[key]


class LockMapGrows(ClearDropsHeldLock[K, V]):
    """Seed 001 before its clear fix: clear() drops the cache entry, never the lock."""

    def clear(self, key: K | None = None) -> None:
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)


class StaleReadOverwritesSave(KeyedStore[K, V]):
    """get() loads without the key's lock, then installs what it read over a newer save."""

    async def get(self, key: K) -> V:
        cached = self._cache.get(key, _MISSING)
        if cached is not _MISSING:
            return self._copy(cached)
        loaded = await self._backend.load(key)  # the bug: not under the key's lock
        self._cache[key] = self._copy(loaded)
        return self._copy(loaded)


class OlderSaveWins(KeyedStore[K, V]):
    """save() does not serialise: two saves of one key interleave and the older may land last."""

    async def save(self, key: K, value: V) -> None:
        snapshot = self._copy(value)
        await self._backend.store(key, self._copy(snapshot))  # the bug: no lock
        self._cache[key] = snapshot


class StaleInstallAfterClear(KeyedStore[K, V]):
    """clear() does not revoke the load in flight, which installs what it read before."""

    def clear(self, key: K | None = None) -> None:
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)  # the bug: no self._tickets.revoke(key)


MUTANTS = (
    mutant(
        ClearDropsHeldLock,
        "seed 001 original",
        "clear() drops a lock that a task holds: two holders",
        "test_get_never_installs_data_a_clear_declared_stale",
        "test_clear_never_lets_two_holders_in",
    ),
    mutant(
        ClearDropsReleasedLock,
        "seed 001 review",
        "clear() drops a just-released lock whose woken waiter has not resumed",
        "test_get_never_installs_data_a_clear_declared_stale",
        "test_clear_never_lets_two_holders_in",
    ),
    mutant(
        LockMapGrows,
        "seed 001 original",
        "the lock map grows with every key",
        "test_get_never_installs_data_a_clear_declared_stale",
        "test_lock_map_returns_to_baseline",
    ),
    mutant(
        StaleReadOverwritesSave,
        "seed 001 review",
        "a stale read overwrites a newer save",
        "test_get_never_installs_stale_data_over_a_save",
        "test_get_never_installs_data_a_clear_declared_stale",
    ),
    mutant(
        OlderSaveWins,
        "seed 001 review",
        "an older save overwrites a newer one",
        "test_the_newest_save_wins",
        "test_get_never_installs_stale_data_over_a_save",
        "test_clear_never_lets_two_holders_in",
    ),
    mutant(
        StaleInstallAfterClear,
        "issue 5 residual",
        "a load in flight across clear() installs stale data",
        "test_get_never_installs_data_a_clear_declared_stale",
    ),
)
