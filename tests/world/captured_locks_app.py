"""A module whose locks are all created at import and captured by other objects.

The shape of real code: ``cachetools.cached`` keeps the module's lock in its
wrapper object, a hand-written decorator keeps it in a closure cell, a function
takes it as a default argument, a class keeps one as a class attribute. Used by
test_captured_locks.py.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import cachetools

_T = TypeVar("_T")

_LOCK = threading.Lock()
_COND = threading.Condition(_LOCK)
_cache: cachetools.LRUCache[Any, Any] = cachetools.LRUCache(maxsize=16)
_fixed_cache: cachetools.LRUCache[Any, Any] = cachetools.LRUCache(maxsize=16)

#: every call of a loader, by key: two for one key is a cache stampede
loads: list[str] = []


@cachetools.cached(_cache, lock=_LOCK)
def load(key: str) -> str:
    """Check, unlock, compute, lock, store: two cold callers both compute."""
    loads.append(key)
    return key.upper()


@cachetools.cached(_fixed_cache, lock=_LOCK, condition=_COND)
def load_fixed(key: str) -> str:
    """The same with ``condition=``: concurrent callers of a pending key wait for the first."""
    loads.append(key)
    return key.upper()


def _locked(lock: Any) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    def decorate(func: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(func)
        def wrapper(*args: Any) -> _T:
            with lock:  # the lock lives in this closure cell only
                return func(*args)

        return wrapper

    return decorate


counter = {"value": 0}


@_locked(threading.Lock())
def bump() -> None:
    """A read-modify-write under a lock that only the wrapper's closure holds."""
    value = counter["value"]
    counter["value"] = value + 1


def _unlocked_bump_with(lock: Any = threading.Lock()) -> None:  # noqa: B008 -- on purpose
    with lock:
        value = counter["value"]
    with lock:  # the bug: read and write in two critical sections
        counter["value"] = value + 1


bump_by_default = _unlocked_bump_with


class Registry:
    """A class attribute lock shared by every instance."""

    _lock = threading.Lock()
    entries: dict[str, int] = {}

    def add(self, key: str) -> None:
        with self._lock:
            fresh = key not in self.entries
        if fresh:  # the bug: checked under the lock, acted on outside it
            with self._lock:
                self.entries[key] = self.entries.get(key, 0) + 1


def reset() -> None:
    """Fresh state for one run (the scenario calls it first)."""
    loads.clear()
    load.cache_clear()
    load_fixed.cache_clear()
    counter["value"] = 0
    Registry.entries = {}


#: a lock kept where no walk looks (a dict's values): only the session-wide opt-in reaches it
_TABLE = {"bump": threading.Lock()}


def bump_from_table() -> None:
    with _TABLE["bump"]:
        value = counter["value"]
        counter["value"] = value + 1
