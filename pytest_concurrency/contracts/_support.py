"""Small instruments the contracts share: overlap counters and a recognisable error.

Inside an explored run only one thread runs at a time and plain Python between
two scheduling points is atomic; in an asyncio contract only one task runs
between awaits. So these instruments need no lock of their own.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from pytest_concurrency.errors import ConcurrencyError
from pytest_concurrency.world.api import SpawnHandle, spawn

__all__ = ["ContractError", "Overlap", "outcome_of", "start"]


class ContractError(ConcurrencyError):
    """The error a contract's callable raises on purpose (a failing load, a failing delete)."""


class Overlap:
    """How many callers are inside a region at once, per key, and the most there ever were."""

    def __init__(self) -> None:
        self.inside: Counter[Hashable] = Counter()
        self.most: Counter[Hashable] = Counter()

    @contextlib.contextmanager
    def region(self, key: Hashable) -> Iterator[None]:
        """Count the caller in for the ``with`` body."""
        self.inside[key] += 1
        self.most[key] = max(self.most[key], self.inside[key])
        try:
            yield
        finally:
            self.inside[key] -= 1

    def max_overall(self) -> int:
        """The most callers ever inside one key's region at once."""
        return max(self.most.values(), default=0)


def outcome_of(call: Callable[[], object]) -> object:
    """The call's result, or the ``Exception`` it raised (as a value, for comparisons)."""
    try:
        return call()
    except Exception as error:
        return error


def start(name: str, call: Callable[[], Any]) -> SpawnHandle[Any]:
    """Run ``call()`` in a new thread named ``name`` in traces; its result is its outcome.

    An exception from ``call`` becomes the handle's result (see :func:`outcome_of`),
    so a property compares outcomes instead of catching per thread.
    """

    def run() -> object:
        return outcome_of(call)

    run.__name__ = run.__qualname__ = name
    return spawn(run)
