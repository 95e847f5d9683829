"""Virtual time: the stand-ins for ``time.sleep``, ``time.monotonic`` and friends.

The patch is process-global, so every stand-in first asks whether its caller is
a controlled thread of the run in progress; any other thread (pytest itself,
pytest-timeout, coverage) gets the real function. In a controlled thread the
clock is the scheduler's ``now``: it only moves when every controlled thread is
blocked, so plain code between two scheduling points takes no time at all.
``time.time()`` starts from a fixed epoch so that runs are identical.
"""

from __future__ import annotations

from pytest_concurrency import _realtime
from pytest_concurrency.world.scheduler import VIRTUAL_START, controlling_scheduler

#: virtual ``time.time()`` when a run starts: 2026-01-01T00:00:00Z
VIRTUAL_EPOCH = 1_767_225_600.0


def sleep(secs: float) -> None:
    """Controlled ``time.sleep``: a scheduling point, then blocked until ``now + secs``."""
    sched = controlling_scheduler()
    if sched is None:
        _realtime.sleep(secs)
        return
    if isinstance(secs, bool) or not isinstance(secs, (int, float)):
        raise TypeError(f"'{type(secs).__name__}' object cannot be interpreted as a number")
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    me = sched.point("sleep", f"{secs:g} s")
    if secs > 0:
        sched.block(me, None, sched.now + secs, "sleep", None)


def monotonic() -> float:
    sched = controlling_scheduler()
    return _realtime.monotonic() if sched is None else sched.now


def monotonic_ns() -> int:
    sched = controlling_scheduler()
    return _realtime.monotonic_ns() if sched is None else round(sched.now * 1e9)


def perf_counter() -> float:
    sched = controlling_scheduler()
    return _realtime.perf_counter() if sched is None else sched.now


def perf_counter_ns() -> int:
    sched = controlling_scheduler()
    return _realtime.perf_counter_ns() if sched is None else round(sched.now * 1e9)


def time() -> float:
    sched = controlling_scheduler()
    return _realtime.time() if sched is None else VIRTUAL_EPOCH + (sched.now - VIRTUAL_START)


def time_ns() -> int:
    sched = controlling_scheduler()
    if sched is None:
        return _realtime.time_ns()
    return round((VIRTUAL_EPOCH + (sched.now - VIRTUAL_START)) * 1e9)


#: stand-in for each real time function, by name in the ``time`` module
STAND_INS = {
    "sleep": sleep,
    "monotonic": monotonic,
    "monotonic_ns": monotonic_ns,
    "perf_counter": perf_counter,
    "perf_counter_ns": perf_counter_ns,
    "time": time,
    "time_ns": time_ns,
}

#: the real function -> its stand-in, to swap names imported with ``from time import ...``
BY_REAL = {getattr(_realtime, name): stand_in for name, stand_in in STAND_INS.items()}
