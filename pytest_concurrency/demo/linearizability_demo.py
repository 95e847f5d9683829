"""Demo section: linearizability checked on generated scenarios, with no scenario written.

Three classic non-linearizable objects -- a lost-update counter, a
check-then-pop queue, a check-then-create registry -- are each caught and
shrunk to the smallest scenario, whose history is shown; the standard
library's queue, a locked deque and the reference build-once cache pass.
The scenarios are derandomized, so the demo shows the same ones every time.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.linearizability import NotLinearizable, check_linearizable
from reference_impl import BuildOnceCache

TITLE = "Linearizability: generated scenarios, explored, checked against a model"

_SETTINGS = settings(max_examples=30, database=None, derandomize=True)


class RacyCounter:
    """``self.value += 1`` without a lock."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> int:
        self.value += 1
        return self.value


class TakeIfAny:
    """Checks for an item, then pops it."""

    def __init__(self) -> None:
        self.items: list[int] = []

    def put(self, item: int) -> None:
        self.items.append(item)

    def take(self) -> int | None:
        if self.items:
            return self.items.pop(0)
        return None


class CreateIfMissing:
    """Creates an entry when it sees none."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}
        self.created = 0

    def get_or_create(self, key: str) -> int:
        if key not in self.entries:
            self.created += 1
            self.entries[key] = self.created
        return self.entries[key]


class Registry:
    """The registry's sequential model."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}

    def get_or_create(self, key: str) -> int:
        return self.entries.setdefault(key, len(self.entries) + 1)


class LockedDeque:
    """Each operation holds one lock."""

    def __init__(self) -> None:
        self.items: deque[int] = deque()
        self.lock = threading.Lock()

    def append(self, item: int) -> None:
        with self.lock:
            self.items.append(item)

    def popleft(self) -> int | None:
        with self.lock:
            return self.items.popleft() if self.items else None


class LoadedOnce:
    """The build-once cache's sequential model: a key's value, loaded once and kept."""

    def __init__(self) -> None:
        self.values: dict[int, int] = {}

    def get(self, key: int) -> int:
        return self.values.setdefault(key, key * 10)


def _get_or_none(q: queue.Queue[int]) -> int | None:
    try:
        return q.get_nowait()
    except queue.Empty:
        return None


def _caught(
    name: str, subject: Callable[[], Any], operations: Mapping[str, Any], **options: Any
) -> Outcome:
    started = _realtime.perf_counter()
    try:
        check_linearizable(subject, operations, settings=_SETTINGS, **options)
    except NotLinearizable as failure:
        size = len(failure.prefix) + sum(map(len, failure.operations)) + len(failure.suffix)
        message = str(failure)
        return Outcome(
            name=name,
            expected="caught, shrunk",
            observed=f"caught: {size} operations",
            ok=True,
            seconds=_realtime.perf_counter() - started,
            detail=message.split("found by")[0],
        )
    return Outcome(name, "caught, shrunk", "passed", ok=False)


def _passes(
    name: str, subject: Callable[[], Any], operations: Mapping[str, Any], **options: Any
) -> Outcome:
    started = _realtime.perf_counter()
    result = check_linearizable(subject, operations, settings=_SETTINGS, **options)
    return Outcome(
        name=name,
        expected="linearizable",
        observed=f"{result.scenarios} scenarios, {result.schedules_run} schedules",
        ok=result.exhausted,
        seconds=_realtime.perf_counter() - started,
    )


def run() -> list[Outcome]:
    return [
        _caught("lost-update counter", RacyCounter, {"increment": lambda c: c.increment()}),
        _caught(
            "check-then-pop queue",
            TakeIfAny,
            {"put": (lambda q, x: q.put(x), st.integers(0, 1)), "take": lambda q: q.take()},
        ),
        _caught(
            "check-then-create registry",
            CreateIfMissing,
            {"get_or_create": (lambda r, key: r.get_or_create(key), st.sampled_from("ab"))},
            model=Registry,
        ),
        _passes(
            "queue.Queue",
            lambda: queue.Queue(),
            {"put": (lambda q, x: q.put(x), st.integers(0, 3)), "get": _get_or_none},
        ),
        _passes(
            "deque with a lock (3 threads)",
            LockedDeque,
            {
                "append": (lambda d, x: d.append(x), st.integers(0, 2)),
                "popleft": LockedDeque.popleft,
            },
            threads=3,
            ops_per_thread=1,
            prefix=1,
        ),
        _passes(
            "BuildOnceCache",
            lambda: BuildOnceCache(lambda key: key * 10),
            {"get": (lambda cache, key: cache.get(key), st.integers(0, 1))},
            model=LoadedOnce,
            ops_per_thread=1,
        ),
    ]
