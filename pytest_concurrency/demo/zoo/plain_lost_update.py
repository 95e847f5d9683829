"""A lost update in ``self.value += 1`` on a plain attribute: one line, three instructions.

Unlike :mod:`.lost_update`, whose counter hides its value behind a property,
this counter's ``self.value += 1`` is a single line of Python with no call in
it: it loads the attribute, adds one and stores the result, and another thread
can run between the load and the store. Line granularity makes the line a
scheduling point but runs it whole, so only ``granularity="opcode"`` -- a
scheduling point before every bytecode instruction -- can split it. The fixed
twin holds a lock across the read-modify-write.
"""

from __future__ import annotations

import threading

from pytest_concurrency.demo.zoo.lost_update import two_increments


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1


class LockedCounter(Counter):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            self.value += 1


def buggy() -> None:
    two_increments(Counter())


def fixed() -> None:
    two_increments(LockedCounter())
