"""A cache stampede: a per-key single-flight cache, with and without the re-check inside the lock.

Three cold callers of ``get(key)`` on three threads: the buggy cache checks the
cache, takes the key's lock and loads without looking again, so a caller that
waited on the lock loads a second time. The fixed cache re-checks inside the
lock. The per-key lock registry is a dict whose ``setdefault`` is atomic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BuggySingleFlight:
    """Double-checked cache missing the second check."""

    def __init__(self, loader: Callable[[str], object]) -> None:
        self._loader = loader
        self._cache: dict[str, object] = {}
        self._locks: dict[str, threading.Lock] = {}

    def _lock_for(self, key: str) -> threading.Lock:
        return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str) -> object:
        value = self._cache.get(key)
        if value is not None:
            return value
        with self._lock_for(key):
            return self._load(key)

    def _load(self, key: str) -> object:
        value = self._loader(key)
        self._cache[key] = value
        return value


class FixedSingleFlight(BuggySingleFlight):
    """The same cache, re-checking inside the per-key lock."""

    def get(self, key: str) -> object:
        value = self._cache.get(key)
        if value is not None:
            return value
        with self._lock_for(key):
            value = self._cache.get(key)  # the builder before us may have finished
            if value is not None:
                return value
            return self._load(key)


def _three_cold_callers(cache_class: type[BuggySingleFlight]) -> None:
    loads: list[str] = []

    def loader(key: str) -> str:
        loads.append(key)
        return f"vocab:{key}"

    cache = cache_class(loader)
    results: list[object] = []
    others = [
        threading.Thread(target=lambda: results.append(cache.get("clip")), name=f"caller-{i}")
        for i in (2, 3)
    ]
    for thread in others:
        thread.start()
    results.append(cache.get("clip"))  # the scenario's own thread is the first caller
    for thread in others:
        thread.join()
    assert results == ["vocab:clip"] * 3
    assert len(loads) == 1, f"the loader ran {len(loads)} times for one key"


def buggy() -> None:
    _three_cold_callers(BuggySingleFlight)


def fixed() -> None:
    _three_cold_callers(FixedSingleFlight)
