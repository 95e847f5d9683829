"""The real clock and the real blocking primitives, captured at import.

The fake clock and the controlled world replace ``time.monotonic``,
``time.sleep``, ``threading.Lock`` and friends while a test runs. The harness
itself must keep real time and real locks whatever is patched, so -- as pytest's
own ``_pytest.timing`` does -- it captures them here, once, before anything can
be swapped, and uses only these names.
"""

from __future__ import annotations

import _thread
import threading as _threading
import time as _time

monotonic = _time.monotonic
monotonic_ns = _time.monotonic_ns
perf_counter = _time.perf_counter
perf_counter_ns = _time.perf_counter_ns
time = _time.time
time_ns = _time.time_ns
sleep = _time.sleep

#: a raw, unpatchable lock (``_thread.LockType``); ``threading.Lock`` may be a
#: controlled stand-in while a test runs, this never is
allocate_lock = _thread.allocate_lock
#: a raw re-entrant lock, for the same reason
RLock = _thread.RLock
get_ident = _thread.get_ident

#: the real ``threading`` methods and classes that the leak detectors, the fake
#: clock and the controlled world wrap or replace while active. Captured here --
#: the package imports this module first -- so that a feature loaded while
#: another one's wrapper is installed still finds the real thing, not the wrapper.
thread_init = _threading.Thread.__init__
thread_start = _threading.Thread.start
thread_join = _threading.Thread.join
thread_is_alive = _threading.Thread.is_alive
condition_wait = _threading.Condition.wait
Event = _threading.Event
Condition = _threading.Condition
#: the other ``threading`` factories and classes the controlled world and the
#: session-wide dual-mode primitives replace
Lock = _threading.Lock
threading_RLock = _threading.RLock
Semaphore = _threading.Semaphore
BoundedSemaphore = _threading.BoundedSemaphore
Barrier = _threading.Barrier

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Lock",
    "RLock",
    "Semaphore",
    "allocate_lock",
    "condition_wait",
    "get_ident",
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "sleep",
    "thread_init",
    "thread_is_alive",
    "thread_join",
    "thread_start",
    "threading_RLock",
    "time",
    "time_ns",
]
