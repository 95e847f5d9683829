"""Virtual time in a run: the stand-ins for ``time.sleep``, ``time.monotonic`` and friends.

The patch is process-global, so every stand-in first asks whether its caller is
a controlled thread of the run in progress; any other thread (pytest itself,
pytest-timeout, coverage) gets the real function -- or the fake clock's time,
when one is installed and the thread is in its scope. In a controlled thread
the clock is the scheduler's ``now``: it only moves when every controlled
thread is blocked, so plain code between two scheduling points takes no time at
all. ``time.time()`` starts from a fixed epoch (or the reading of a fake clock
installed around the exploration) so that runs are identical.

The functions are the fake clock's own (:mod:`pytest_concurrency._clock.scoped`):
one table of time replacements for both drivers of virtual time.
"""

from __future__ import annotations

from pytest_concurrency import _realtime
from pytest_concurrency._clock import scoped
from pytest_concurrency._time.clock import DEFAULT_WALL

#: virtual ``time.time()`` when a run starts without a fake clock: 2026-01-01T00:00:00Z
VIRTUAL_EPOCH = DEFAULT_WALL

sleep = scoped.sleep
monotonic = scoped.monotonic
monotonic_ns = scoped.monotonic_ns
perf_counter = scoped.perf_counter
perf_counter_ns = scoped.perf_counter_ns
time = scoped.time
time_ns = scoped.time_ns

#: stand-in for each real time function, by name in the ``time`` module
STAND_INS = scoped.REPLACEMENTS

#: the real function -> its stand-in, to swap names imported with ``from time import ...``
BY_REAL = {getattr(_realtime, name): stand_in for name, stand_in in STAND_INS.items()}
