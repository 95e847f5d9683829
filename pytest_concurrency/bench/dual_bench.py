"""What the session-wide dual-mode primitives cost code that runs outside interleavings runs.

With ``--interleavings-controllable-locks`` every lock the code under test
creates is a dual-mode object, and every test -- not only the explored ones --
pays its indirection. Measured against a real lock in the same run, outside
any run (the fast path: one global read, then the real lock):

- ``with lock:`` (acquire and release through the context manager);
- ``lock.acquire(); lock.release()``;
- creating a ``threading.Lock()`` (the factory looks at the calling module).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, median_of
from pytest_concurrency.world import dual

TITLE = "Dual-mode locks outside runs"

#: operations per sample
OPERATIONS = 200_000
CREATIONS = 20_000


def _with(lock: Any) -> Callable[[], float]:
    def measure() -> float:
        started = _realtime.perf_counter_ns()
        for _ in range(OPERATIONS):
            with lock:
                pass
        return (_realtime.perf_counter_ns() - started) / OPERATIONS

    return measure


def _acquire_release(lock: Any) -> Callable[[], float]:
    def measure() -> float:
        acquire, release = lock.acquire, lock.release
        started = _realtime.perf_counter_ns()
        for _ in range(OPERATIONS):
            acquire()
            release()
        return (_realtime.perf_counter_ns() - started) / OPERATIONS

    return measure


def _create(factory: Callable[[], Any]) -> Callable[[], float]:
    def measure() -> float:
        started = _realtime.perf_counter_ns()
        for _ in range(CREATIONS):
            factory()
        return (_realtime.perf_counter_ns() - started) / CREATIONS

    return measure


def _paired(
    name: str, subject: Callable[[], float], baseline: Callable[[], float], repeats: int
) -> Measurement:
    """Alternate subject and baseline samples, so drift on a shared machine hits both alike."""
    subject()  # warm both up first
    baseline()
    subjects: list[float] = []
    baselines: list[float] = []
    for _ in range(repeats):
        subjects.append(subject())
        baselines.append(baseline())
    return Measurement(name, median_of(subjects), "ns", baseline=median_of(baselines))


def run(repeats: int) -> list[Measurement]:
    real = _realtime.allocate_lock()
    dual_lock = dual.DualLock(_realtime.allocate_lock(), "bench")
    rows = [
        _paired(f"dual-mode {name}", make(dual_lock), make(real), repeats)
        for name, make in (("with lock:", _with), ("acquire(); release()", _acquire_release))
    ]
    rows.append(
        _paired(
            "dual-mode threading.Lock()",
            _create(dual.FACTORIES["Lock"]),
            _create(_realtime.Lock),
            repeats,
        )
    )
    return rows
