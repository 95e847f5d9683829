"""What the fake clock costs: wake-up latency, per-call overhead, install time.

- real time from ``advance()`` to the moment a thread sleeping 1,800 virtual
  seconds is running again (goal: under 5 ms), next to the floor the OS sets:
  waking a thread blocked on a raw lock that another thread releases;
- a patched ``time.monotonic()`` called from a thread *out of* the clock's
  scope (pytest-timeout's timer, xdist's threads: they pay this on every call
  while a test runs) next to the real ``time.monotonic()``;
- ``install()`` + ``uninstall()``, without and with ``datetime`` (freezegun).

Every figure is a median of medians: each sample is itself the median of a
batch, so one descheduled thread on a shared machine does not move it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, median_of, repeat
from pytest_concurrency.fake_clock import FakeClock

TITLE = "Fake clock"

_BATCH = 25  # wake-ups per sample
_CALLS = 50_000  # calls per overhead sample
_TIMEOUT = 5.0  # real seconds; every wait below normally ends in microseconds


def _advance_to_wake_latency() -> float:
    """Median over a batch: seconds from ``advance(1800)`` to the sleeper running."""
    samples: list[float] = []
    with FakeClock(datetime=False) as clock:
        for _ in range(_BATCH):
            woke: list[float] = []

            def sleeper(woke: list[float] = woke) -> None:
                time.sleep(1800)
                woke.append(_realtime.perf_counter())

            thread = threading.Thread(target=sleeper, daemon=True)
            thread.start()
            if not clock.wait_for_sleepers(1, timeout=_TIMEOUT):
                raise RuntimeError("the sleeper never parked on the fake clock")
            started = _realtime.perf_counter()
            clock.advance(1800)
            thread.join(_TIMEOUT)
            samples.append(woke[0] - started)
    return median_of(samples)


def _raw_lock_handoff() -> float:
    """Median over a batch: seconds from ``release()`` to the blocked thread running."""
    samples: list[float] = []
    for _ in range(_BATCH):
        lock = _realtime.allocate_lock()
        lock.acquire()
        parked = _realtime.allocate_lock()
        parked.acquire()
        woke: list[float] = []

        def blocked(lock: Any = lock, parked: Any = parked, woke: list[float] = woke) -> None:
            parked.release()
            lock.acquire(True, _TIMEOUT)
            woke.append(_realtime.perf_counter())

        thread = threading.Thread(target=blocked, daemon=True)
        thread.start()
        parked.acquire(True, _TIMEOUT)
        _realtime.sleep(0.0005)  # let it block in acquire()
        started = _realtime.perf_counter()
        lock.release()
        thread.join(_TIMEOUT)
        samples.append(woke[0] - started)
    return median_of(samples)


def _per_call(read: object, in_thread_started_before: FakeClock | None) -> float:
    """Seconds per call of ``read()`` in a thread started before ``clock`` was installed."""
    go, done = _realtime.allocate_lock(), _realtime.allocate_lock()
    go.acquire()
    done.acquire()
    result: list[float] = []

    def loop() -> None:
        go.acquire(True, _TIMEOUT)
        function = read
        started = _realtime.perf_counter()
        for _ in range(_CALLS):
            function()  # type: ignore[operator]
        result.append((_realtime.perf_counter() - started) / _CALLS)
        done.release()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    if in_thread_started_before is not None:
        in_thread_started_before.install()
    try:
        go.release()
        # a raw lock: a join would run on the clock, and this thread is out of its scope
        done.acquire(True, _TIMEOUT * 6)
    finally:
        if in_thread_started_before is not None:
            in_thread_started_before.uninstall()
    return result[0]


def _patched_monotonic_out_of_scope() -> float:
    return _per_call(lambda: time.monotonic(), FakeClock(datetime=False))


def _real_monotonic() -> float:
    return _per_call(lambda: _realtime.monotonic(), None)


def _install_uninstall(datetime: bool) -> float:
    clock = FakeClock(datetime=datetime)
    started = _realtime.perf_counter()
    clock.install()
    clock.uninstall()
    return _realtime.perf_counter() - started


def run(repeats: int) -> list[Measurement]:
    _install_uninstall(True)  # warm the captured-import scan cache and freezegun's
    wake = median_of(repeat(_advance_to_wake_latency, repeats))
    handoff = median_of(repeat(_raw_lock_handoff, repeats))
    patched = median_of(repeat(_patched_monotonic_out_of_scope, repeats))
    real = median_of(repeat(_real_monotonic, repeats))
    plain = median_of(repeat(lambda: _install_uninstall(False), repeats))
    with_datetime = median_of(repeat(lambda: _install_uninstall(True), repeats))
    return [
        Measurement(
            "advance() to the wake of a thread sleeping 1,800 virtual s",
            wake * 1e3,
            "ms",
            baseline=handoff * 1e3,
            goal="< 5 ms",
            met=wake < 0.005,
        ),
        Measurement(
            "patched time.monotonic() in an out-of-scope thread",
            patched * 1e9,
            "ns/call",
            baseline=real * 1e9,
        ),
        Measurement("install() + uninstall(), datetime=False", plain * 1e3, "ms"),
        Measurement(
            "install() + uninstall(), datetime=True (freezegun)",
            with_datetime * 1e3,
            "ms",
            baseline=plain * 1e3,
        ),
    ]
