"""The real clock and the real blocking primitives, captured at import.

The fake clock and the controlled world replace ``time.monotonic``,
``time.sleep``, ``threading.Lock`` and friends while a test runs. The harness
itself must keep real time and real locks whatever is patched, so -- as pytest's
own ``_pytest.timing`` does -- it captures them here, once, before anything can
be swapped, and uses only these names.
"""

from __future__ import annotations

import _thread
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

__all__ = [
    "RLock",
    "allocate_lock",
    "get_ident",
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "sleep",
    "time",
    "time_ns",
]
