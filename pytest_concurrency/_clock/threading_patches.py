"""The ``threading`` and ``queue`` stand-ins: where the stdlib's waits meet the clock.

Pure-Python stdlib primitives reach every timed wait through one method and
one clock: ``threading.Condition.wait`` (``Event.wait``, ``Semaphore.acquire``,
``Barrier.wait``, ``Queue.get/put`` all call it) and the ``monotonic`` that
``threading`` and ``queue`` captured at import (patched by the captured-import
scan). So the patches are few:

* ``Condition.wait``: an in-scope timed wait parks a :class:`~.waiter.Waiter`
  in ``cond._waiters`` -- ``notify`` releases it like the stdlib's own raw
  lock -- and on the deadline heap; untimed in-scope waits park too, without a
  deadline, so the thread counts as idle for autojump.
* ``Thread.start``: marks threads started in scope (unless a harness module
  starts them: pytest-timeout's timer stays real).
* ``Thread.join``: C-level on 3.13 and a C lock on 3.10-3.12, so a join in
  scope waits on the thread in short real slices while parked on the clock.
* ``threading.Lock``/``RLock`` and ``queue.SimpleQueue`` factories: see
  :mod:`.locks` and :mod:`.simple_queue`.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency._clock import scoped
from pytest_concurrency._clock.locks import LockFactory, rlock_factory
from pytest_concurrency._clock.simple_queue import SimpleQueueFactory
from pytest_concurrency._clock.waiter import Outcome
from pytest_concurrency._patching import Patcher

_real_condition_wait = _realtime.condition_wait
_real_thread_start = _realtime.thread_start
_real_thread_join = _realtime.thread_join
_STDLIB_WAITERS = (threading.__file__, queue.__file__)


def _wait_kind(frame: Any) -> str:
    """``Event.wait``, ``Queue.get``...: the stdlib method that called ``Condition.wait``."""
    code = frame.f_code
    if code.co_filename in _STDLIB_WAITERS:
        return str(getattr(code, "co_qualname", code.co_name))
    return "Condition.wait"


def condition_wait(self: threading.Condition, timeout: float | None = None) -> bool:
    """``Condition.wait`` that parks on the fake clock when called in scope."""
    timeline = scoped.current()
    if timeline is None or (timeout is not None and not timeout > 0):  # NaN too: stdlib's own
        return _real_condition_wait(self, timeout)
    cond: Any = self
    if not cond._is_owned():
        raise RuntimeError("cannot wait on un-acquired lock")
    waiter = timeline.prepare(_wait_kind(sys._getframe(1)), timeout)
    cond._waiters.append(waiter)
    saved_state = cond._release_save()
    notified = False
    try:
        notified = timeline.park(waiter, real_budget=timeout) is Outcome.NOTIFIED
        return notified
    finally:
        cond._acquire_restore(saved_state)
        if not notified:
            try:
                cond._waiters.remove(waiter)
            except ValueError:
                pass


def thread_start(self: threading.Thread) -> None:
    """``Thread.start`` that puts threads started in scope into scope."""
    timeline = scoped.current()
    if timeline is None or scoped.caller_keeps_real_time(1):
        return _real_thread_start(self)
    assert timeline.scope is not None
    timeline.scope.mark(self)
    timeline.thread_starting()
    started = False
    try:
        _real_thread_start(self)
        started = True
    finally:
        timeline.thread_started(self, started)
    return None


def thread_join(self: threading.Thread, timeout: float | None = None) -> None:
    """``Thread.join`` whose timeout is virtual in scope.

    The joined thread's end cannot wake a parked waiter (CPython signals it in
    C), so the wait re-joins in real slices of at most 20 ms: a join in scope
    returns within one slice of the thread's end.
    """
    timeline = scoped.current()
    if timeline is None:
        return _real_thread_join(self, timeout)
    _real_thread_join(self, 0)  # the stdlib's own checks (not started, current thread)
    if not self.is_alive() or (timeout is not None and timeout <= 0):
        return None

    def wait(slice_: float | None) -> bool:
        _real_thread_join(self, slice_)
        return not self.is_alive()

    waiter = timeline.prepare("Thread.join", timeout, interruptible=True, blocked=self.is_alive)
    outcome = timeline.park(waiter, wait, polled=True, real_budget=timeout)
    if outcome is Outcome.RELEASED and timeout is None:
        _real_thread_join(self)  # the clock went away mid-join: finish as a plain join
    return None


def install(patcher: Patcher) -> None:
    """Swap the stand-ins in (``patcher`` puts the originals back)."""
    # the real class, even while the session-wide dual-mode factories stand in its name
    patcher.setattr(_realtime.Condition, "wait", condition_wait)
    patcher.setattr(threading.Thread, "start", thread_start)
    patcher.setattr(threading.Thread, "join", thread_join)
    patcher.setattr(threading, "Lock", LockFactory)
    patcher.setattr(threading, "RLock", rlock_factory)
    patcher.setattr(queue, "SimpleQueue", SimpleQueueFactory)
