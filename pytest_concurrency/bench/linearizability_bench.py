"""Bench section: time to a linearizability verdict, and what the checker itself costs.

- time to a verdict for a lost-update counter (caught: generate, explore,
  shrink) and for a locked queue (proved: every generated scenario explored
  exhaustively) at 2x2 and 3x2 (threads x operations per thread), with a
  fixed number of derandomized scenarios so that runs compare;
- the checker's share: the seconds spent searching histories against the
  model, next to the seconds spent exploring (which include them).
"""

from __future__ import annotations

import threading
from collections import deque

from hypothesis import settings
from hypothesis import strategies as st

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, median_of
from pytest_concurrency.linearizability import (
    LinearizabilityResult,
    NotLinearizable,
    check_linearizable,
)

TITLE = "linearizability checking"

_SCENARIOS = 20
_SHAPES = ((2, 2), (3, 2))


class _Counter:
    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> int:
        self.value += 1
        return self.value


class _LockedQueue:
    def __init__(self) -> None:
        self.items: deque[int] = deque()
        self.lock = threading.Lock()

    def put(self, item: int) -> None:
        with self.lock:
            self.items.append(item)

    def get(self) -> int | None:
        with self.lock:
            return self.items.popleft() if self.items else None


def _settings() -> settings:
    return settings(max_examples=_SCENARIOS, database=None, derandomize=True)


def _caught(threads: int, ops: int) -> float:
    started = _realtime.perf_counter()
    try:
        check_linearizable(
            _Counter,
            {"increment": lambda c: c.increment()},
            threads=threads,
            ops_per_thread=ops,
            settings=_settings(),
        )
    except NotLinearizable:
        return _realtime.perf_counter() - started
    raise AssertionError("the lost update was not caught")


def _proved(threads: int, ops: int) -> tuple[float, LinearizabilityResult]:
    started = _realtime.perf_counter()
    result = check_linearizable(
        _LockedQueue,
        {"put": (lambda q, x: q.put(x), st.integers(0, 2)), "get": lambda q: q.get()},
        threads=threads,
        ops_per_thread=ops,
        settings=_settings(),
    )
    return _realtime.perf_counter() - started, result


def run(repeats: int) -> list[Measurement]:
    rows: list[Measurement] = []
    for threads, ops in _SHAPES:
        shape = f"{threads}x{ops}"
        caught = median_of([_caught(threads, ops) for _ in range(repeats)])
        proofs = [_proved(threads, ops) for _ in range(repeats)]
        proved = median_of([seconds for seconds, _ in proofs])
        checker = median_of([result.checker_seconds for _, result in proofs])
        exploring = median_of([result.explore_seconds for _, result in proofs])
        schedules = proofs[0][1].schedules_run
        rows += [
            Measurement(f"{shape}: lost-update counter caught and shrunk", caught, "s"),
            Measurement(
                f"{shape}: locked queue proved ({_SCENARIOS} scenarios, {schedules} schedules)",
                proved,
                "s",
            ),
            Measurement(
                f"{shape}: checker's seconds vs the exploring seconds (baseline) in that proof",
                checker,
                "s",
                baseline=exploring,
            ),
        ]
    return rows
