"""A lost update in ``self.value += 1``: two threads read the same count, both write count + 1.

The counter keeps its value behind a property -- as an ORM field, a settings
object or a metrics registry does -- so ``self.value += 1`` reads through the
getter and writes through the setter: two lines of Python with room for
another thread between them. No lock is involved, so at sync-point granularity
there is no scheduling point in there at all; at line granularity the setter's
line is one. The fixed twin holds a lock across the read-modify-write.
"""

from __future__ import annotations

import threading
from typing import Protocol

from pytest_concurrency.demo.zoo.finer import start_and_join


class Counter:
    def __init__(self) -> None:
        self._store = {"value": 0}

    @property
    def value(self) -> int:
        return self._store["value"]

    @value.setter
    def value(self, new: int) -> None:
        self._store["value"] = new

    def increment(self) -> None:
        self.value += 1


class LockedCounter(Counter):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            self.value += 1


class Incrementing(Protocol):
    value: int

    def increment(self) -> None: ...


def two_increments(counter: Incrementing) -> None:
    """The scenario body shared by the lost-update exhibits: two threads, one increment each."""
    start_and_join(counter.increment, counter.increment)
    assert counter.value == 2, f"two increments left the counter at {counter.value}"


def buggy() -> None:
    two_increments(Counter())


def fixed() -> None:
    two_increments(LockedCounter())
