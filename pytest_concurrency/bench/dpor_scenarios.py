"""The partial-order reduction benchmark's scenarios, written once for every tool that drives them.

Each scenario is plain state (a class), one worker function run on every
thread, and an invariant over the state after all workers finished: the shape
any interleavings explorer can drive (``setup``, ``workers``, ``invariant``).
Nothing here imports an explorer; :func:`as_scenario` turns one into a
zero-argument function that starts the threads itself, for
``explore(scenario)``.

``expect`` says what a complete answer is: ``"find"`` (some interleaving breaks
the invariant) or ``"prove"`` (every interleaving keeps it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Counter:
    """A read-modify-write split over two lines, with no lock: the lost update."""

    def __init__(self) -> None:
        self.value = 0


def unlocked_increment(counter: Counter) -> None:
    tmp = counter.value
    counter.value = tmp + 1


class LockedCounter:
    """The same read-modify-write, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value = 0


def locked_increment(counter: LockedCounter) -> None:
    with counter.lock:
        tmp = counter.value
        counter.value = tmp + 1


class DoubleCheckedCache:
    """A per-key cache that checks, takes the key's lock, and checks again before it builds."""

    def __init__(self) -> None:
        self.cache: dict[str, str] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.builds = 0

    def get(self, key: str) -> str:
        value = self.cache.get(key)
        if value is not None:
            return value
        with self.locks.setdefault(key, threading.Lock()):
            value = self.cache.get(key)  # the builder before us may have finished
            if value is not None:
                return value
            self.builds += 1
            value = f"built:{key}"
            self.cache[key] = value
            return value


def cold_call(cache: DoubleCheckedCache) -> None:
    value = cache.get("key")
    assert value == "built:key", f"a caller got {value!r}"


class TwoAccounts:
    """Two balances, each under its own lock; every transfer takes them in the same order."""

    def __init__(self) -> None:
        self.first_lock = threading.Lock()
        self.second_lock = threading.Lock()
        self.first = 100
        self.second = 0


def ordered_transfer(accounts: TwoAccounts) -> None:
    with accounts.first_lock, accounts.second_lock:
        accounts.first -= 10
        accounts.second += 10


@dataclass(frozen=True)
class Scenario:
    """One row of the benchmark: state, the worker every thread runs, and what must hold."""

    name: str
    setup: Callable[[], Any]
    worker: Callable[[Any], None]
    threads: int
    invariant: Callable[[Any], bool]
    expect: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "lost update, 2 threads",
        Counter,
        unlocked_increment,
        2,
        lambda counter: counter.value == 2,
        "find",
    ),
    Scenario(
        "locked counter, 2 threads",
        LockedCounter,
        locked_increment,
        2,
        lambda counter: counter.value == 2,
        "prove",
    ),
    Scenario(
        "locked counter, 3 threads",
        LockedCounter,
        locked_increment,
        3,
        lambda counter: counter.value == 3,
        "prove",
    ),
    Scenario(
        "double-checked cache, 3 callers",
        DoubleCheckedCache,
        cold_call,
        3,
        lambda cache: cache.builds == 1,
        "prove",
    ),
    Scenario(
        "two locks in a fixed order, 2 threads",
        TwoAccounts,
        ordered_transfer,
        2,
        lambda accounts: (accounts.first, accounts.second) == (80, 20),
        "prove",
    ),
)


def by_name(name: str) -> Scenario:
    """The scenario called ``name`` (a ValueError naming the known ones otherwise)."""
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    known = ", ".join(repr(s.name) for s in SCENARIOS)
    raise ValueError(f"no benchmark scenario named {name!r}; known: {known}")


def as_scenario(scenario: Scenario) -> Callable[[], None]:
    """A zero-argument function that runs every worker on its own thread, joins them, checks."""

    def run() -> None:
        state = scenario.setup()
        threads = [
            threading.Thread(target=scenario.worker, args=(state,), name=f"worker-{i}")
            for i in range(scenario.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert scenario.invariant(state), f"{scenario.name}: the invariant does not hold"

    run.__name__ = run.__qualname__ = "_".join(re.findall(r"\w+", scenario.name))
    return run
