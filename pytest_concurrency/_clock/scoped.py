"""The installed clock, and the thread-scoped ``time`` functions that read it.

One clock at a time is *installed*: :data:`_timeline` points at it. The
functions here replace ``time.monotonic``, ``time.sleep`` and friends (and the
copies modules captured with ``from time import ...``). They are module-level
singletons, not per-clock closures, so a module that captured one during a test
follows whichever clock is installed later and gets real time when none is.

Each call answers three questions, cheapest first: is a clock installed, is the
calling thread in its scope, and is the calling module one that keeps real time
(pytest, its plugins: see :mod:`.harness`)? Only a "yes, yes, no" gets virtual
time.

They are also the explorer's: when the answer is not virtual time, each asks
whether the caller is a controlled thread of an interleavings run, and then the
run's scheduler is the clock (:mod:`pytest_concurrency._time.clock`). A run's
threads are never in a fake clock's scope (the run starts them, not the
clock's ``Thread.start``), so the order of the two questions only decides who
pays for them: the fake clock's hot path is unchanged. So there is one
table of time replacements, :data:`REPLACEMENTS`, whoever drives the time, and
a module that captured ``from time import monotonic`` follows the run and the
fake clock alike.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import TYPE_CHECKING, Any

from pytest_concurrency import _realtime
from pytest_concurrency.world import scheduler as _run

if TYPE_CHECKING:
    from pytest_concurrency._clock.harness import ModuleRules
    from pytest_concurrency._clock.timeline import Timeline
    from pytest_concurrency.world.scheduler import Scheduler

_timeline: Timeline | None = None
_rules: ModuleRules | None = None
#: the installed clock's per-thread "in scope?" cache (``Scope.local``), kept here
#: so the out-of-scope path of every patched call is two global reads and one
#: thread-local read
_local: Any = None

_real_monotonic = _realtime.monotonic
_real_monotonic_ns = _realtime.monotonic_ns
_real_perf_counter = _realtime.perf_counter
_real_perf_counter_ns = _realtime.perf_counter_ns
_real_time = _realtime.time
_real_time_ns = _realtime.time_ns
_real_sleep = _realtime.sleep
_get_ident = _realtime.get_ident


def run_clock() -> Scheduler | None:
    """The run's scheduler when the caller is one of its controlled threads."""
    sched = _run._ACTIVE
    if sched is not None and _get_ident() in sched.by_ident:
        return sched
    return None


def activate(timeline: Timeline, rules: ModuleRules) -> None:
    """Make ``timeline`` the installed clock; refuse a second one."""
    global _timeline, _rules, _local
    if _timeline is not None:
        raise RuntimeError(
            "another FakeClock is already installed; uninstall it before installing a new one "
            "(one virtual clock at a time)"
        )
    assert timeline.scope is not None
    _rules = rules
    _local = timeline.scope.local
    _timeline = timeline


def deactivate(timeline: Timeline) -> None:
    global _timeline
    if _timeline is timeline:
        _timeline = None


def installed() -> Timeline | None:
    """The installed clock's timeline, whoever asks."""
    return _timeline


def current() -> Timeline | None:
    """The installed timeline when the calling thread is in its scope, else None."""
    timeline = _timeline
    if timeline is None:
        return None
    scope = timeline.scope
    assert scope is not None
    try:
        here = scope.local.in_scope
    except AttributeError:
        here = scope._classify()
    return timeline if here else None


def caller_module(depth: int) -> str:
    """The name of the module that called the function ``depth`` frames up."""
    return str(sys._getframe(depth + 1).f_globals.get("__name__") or "")


def caller_keeps_real_time(depth: int) -> bool:
    """True when the function ``depth`` frames up was called from a real-time module."""
    module_name = str(sys._getframe(depth + 1).f_globals.get("__name__") or "")
    return _rules is not None and _rules.keeps_real_time(module_name)


def _for_caller() -> Timeline | None:
    """:func:`current`, but None when the function's caller keeps real time.

    Inlined rather than calling :func:`current`: out-of-scope threads
    (pytest-timeout's timer, xdist's) pay this on every ``time`` call.
    """
    timeline = _timeline
    if timeline is None:
        return None
    try:
        here = _local.in_scope
    except AttributeError:
        here = timeline.scope._classify()  # type: ignore[union-attr]
    if not here:
        return None
    module_name = sys._getframe(2).f_globals.get("__name__") or ""
    return None if _rules.keeps_real_time(module_name) else timeline  # type: ignore[union-attr]


def monotonic() -> float:
    timeline = _for_caller()
    if timeline is not None:
        return timeline.now
    sched = run_clock()
    return _real_monotonic() if sched is None else sched.now


def monotonic_ns() -> int:
    timeline = _for_caller()
    if timeline is not None:
        return timeline.monotonic_ns()
    sched = run_clock()
    return _real_monotonic_ns() if sched is None else round(sched.now * 1e9)


def perf_counter() -> float:
    timeline = _for_caller()
    if timeline is not None:
        return timeline.perf()
    sched = run_clock()
    return _real_perf_counter() if sched is None else sched.perf_time()


def perf_counter_ns() -> int:
    timeline = _for_caller()
    if timeline is not None:
        return timeline.perf_ns()
    sched = run_clock()
    return _real_perf_counter_ns() if sched is None else round(sched.perf_time() * 1e9)


def time() -> float:
    timeline = _for_caller()
    if timeline is not None:
        return timeline.wall()
    sched = run_clock()
    return _real_time() if sched is None else sched.wall_time()


def time_ns() -> int:
    timeline = _for_caller()
    if timeline is not None:
        return timeline.wall_ns()
    sched = run_clock()
    return _real_time_ns() if sched is None else round(sched.wall_time() * 1e9)


def sleep(secs: object) -> None:
    """``time.sleep``: virtual in scope (the driver advances, others park), else real.

    Anything the real ``sleep`` would reject (negative, NaN, infinite, not a
    number) or treat specially (zero: just yield) goes to the real one, so the
    errors and the ``sleep(0)`` behaviour are the standard library's own. In a
    thread of an interleavings run it is the run's controlled sleep.
    """
    timeline = _for_caller()
    if timeline is None:
        sched = run_clock()
        if sched is not None:
            _run_sleep(sched, secs)
            return None
        return _real_sleep(secs)  # type: ignore[arg-type]  # its TypeError is the right one
    if not isinstance(secs, numbers.Real):
        return _real_sleep(secs)  # type: ignore[arg-type]
    seconds = float(secs)
    if not math.isfinite(seconds) or seconds <= 0:
        return _real_sleep(seconds)
    timeline.sleep(seconds)
    return None


def _run_sleep(sched: Scheduler, secs: object) -> None:
    """``time.sleep`` in a run: a scheduling point, then blocked until ``now + secs``."""
    if isinstance(secs, bool) or not isinstance(secs, (int, float)):
        raise TypeError(f"'{type(secs).__name__}' object cannot be interpreted as a number")
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    me = sched.point("sleep", f"{secs:g} s")
    if secs > 0:
        sched.block(me, None, sched.now + secs, "sleep", None)


#: ``time`` attribute name -> its stand-in: the one table of time replacements, installed
#: by the fake clock and by every interleavings run
REPLACEMENTS = {
    "monotonic": monotonic,
    "monotonic_ns": monotonic_ns,
    "perf_counter": perf_counter,
    "perf_counter_ns": perf_counter_ns,
    "time": time,
    "time_ns": time_ns,
    "sleep": sleep,
}

#: the real functions, by the same names
REALS = {
    "monotonic": _real_monotonic,
    "monotonic_ns": _real_monotonic_ns,
    "perf_counter": _real_perf_counter,
    "perf_counter_ns": _real_perf_counter_ns,
    "time": _real_time,
    "time_ns": _real_time_ns,
    "sleep": _real_sleep,
}
