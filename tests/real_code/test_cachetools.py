"""cachetools (pinned in the test-libs extra): its caches and decorators shared by threads.

cachetools' caches are not thread-safe, and its ``cached`` decorator takes a
``lock`` (and a ``condition``) for the callers that share one: each race
below is what a program gets without them, and each twin is the documented
remedy, proven.
"""

from __future__ import annotations

import threading

import pytest
from real_checks import found, proven, run_threads

cachetools = pytest.importorskip("cachetools", reason="pip install -e .[test-libs]")

TRACE = ["cachetools", __file__]


def _concurrent_cold_calls(**guard: object) -> None:
    loads: list[str] = []

    @cachetools.cached(cachetools.LRUCache(maxsize=8), **guard)
    def settings_for(user: str) -> dict[str, str]:
        loads.append(user)
        return {"user": user}

    run_threads(lambda: settings_for("ada"), lambda: settings_for("ada"))
    assert len(loads) == 1, f"the decorated function ran {len(loads)} times for one key"


def test_cached_without_a_condition_runs_the_function_once_per_concurrent_caller() -> None:
    """Two threads call a ``@cached`` function for the same key on a cold cache: both
    miss, so the expensive function runs twice (a cache stampede)."""
    failure = found(_concurrent_cold_calls, TRACE)
    assert "ran 2 times for one key" in str(failure)


def test_cached_with_a_condition_runs_it_once() -> None:
    """With ``condition=threading.Condition()`` the second caller waits for the first
    one's call and gets its value."""
    # races="ignore": the reduction does not yet order a read made after Condition.wait()
    # re-acquires the lock after the notifier's writes under it, and would call it a race
    proven(lambda: _concurrent_cold_calls(condition=threading.Condition()), TRACE, races="ignore")


def _hits_counted(**guard: object) -> None:
    @cachetools.cached(cachetools.LRUCache(maxsize=8), info=True, **guard)
    def settings_for(user: str) -> dict[str, str]:
        return {"user": user}

    settings_for("ada")  # warm: every later call is a hit
    run_threads(lambda: settings_for("ada"), lambda: settings_for("ada"))
    info = settings_for.cache_info()
    assert info.hits == 2, f"two cache hits were counted as {info.hits}"


def test_cache_info_without_a_lock_loses_a_hit() -> None:
    """``@cached(..., info=True)`` counts hits with ``self.__hits += 1``: two threads
    hitting at once both read the old count, and one hit is lost from ``cache_info()``."""
    failure = found(_hits_counted, TRACE)
    assert "two cache hits were counted as 1" in str(failure)


def test_cache_info_with_a_lock_counts_every_hit() -> None:
    """With ``lock=threading.Lock()`` the counts are updated under the lock."""
    proven(lambda: _hits_counted(lock=threading.Lock()), TRACE)


def _full_cache_filled(*, locked: bool) -> None:
    cache: cachetools.LRUCache[str, int] = cachetools.LRUCache(maxsize=2)
    cache["old"] = 0
    lock = threading.Lock()

    def put(key: str) -> None:
        if locked:
            with lock:
                cache[key] = 1
        else:
            cache[key] = 1

    run_threads(lambda: put("a"), lambda: put("b"))
    assert len(cache) <= cache.maxsize, f"{len(cache)} items in a cache of maxsize 2"
    assert cache.currsize == len(cache), f"currsize {cache.currsize} for {len(cache)} items"


def test_an_lru_cache_shared_without_a_lock_outgrows_its_maxsize() -> None:
    """Two threads insert into a shared ``LRUCache`` that has one free slot: both see room
    (neither evicts), so the cache ends up holding more items than ``maxsize``, and its
    ``currsize`` no longer matches its length."""
    failure = found(lambda: _full_cache_filled(locked=False), TRACE)
    assert "in a cache of maxsize 2" in str(failure) or "currsize" in str(failure)


def test_an_lru_cache_behind_a_lock_keeps_its_size() -> None:
    """The same inserts, each under one lock."""
    proven(lambda: _full_cache_filled(locked=True), TRACE)
