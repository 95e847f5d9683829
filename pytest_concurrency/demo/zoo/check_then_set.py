"""Check-then-set on a shared dict: two threads both miss the key, both make its value.

``if key not in items: items[key] = make(key)`` reads like one step and is
two: between the check and the store another thread can check too. Each dict
operation is atomic, so no lock is ever touched and sync-point exploration
sees nothing; at line granularity the store's line is a scheduling point. The
fixed twin checks and stores under one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pytest_concurrency.demo.zoo.finer import start_and_join


class Registry:
    """One value per key, made on first use."""

    def __init__(self, make: Callable[[str], object]) -> None:
        self._make = make
        self._items: dict[str, object] = {}

    def get(self, key: str) -> object:
        if key not in self._items:
            self._items[key] = self._make(key)
        return self._items[key]


class LockedRegistry(Registry):
    def __init__(self, make: Callable[[str], object]) -> None:
        super().__init__(make)
        self._lock = threading.Lock()

    def get(self, key: str) -> object:
        with self._lock:
            if key not in self._items:
                self._items[key] = self._make(key)
            return self._items[key]


def _two_getters(registry_class: type[Registry]) -> None:
    made: list[str] = []

    def make(key: str) -> object:
        made.append(key)
        return object()

    registry = registry_class(make)
    got: list[object] = []

    def user() -> None:
        got.append(registry.get("a"))

    start_and_join(user, user)
    assert len(made) == 1, f"the value of one key was made {len(made)} times"
    assert got[0] is got[1], "two callers got different values for one key"


def buggy() -> None:
    _two_getters(Registry)


def fixed() -> None:
    _two_getters(LockedRegistry)
