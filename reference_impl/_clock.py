"""The default clock, looked up when it is read.

``from time import monotonic`` would bind the real function at import, so a fake
clock or the explorer's virtual time, which replace ``time.monotonic`` while a
test runs, would never reach the guard. Every guard therefore reads time through
an injected ``clock`` callable or, by default, through :func:`monotonic`, which
looks ``time.monotonic`` up on every call. Wall time (``time.time``) is never
used: it jumps when the system clock is set, and a jump backwards would make a
dedup window or an idle timeout last for hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ._validation import require_callable

#: a zero-argument callable returning seconds on a monotonic scale
Clock = Callable[[], float]


def monotonic() -> float:
    """Return ``time.monotonic()``, looking the function up at call time."""
    return time.monotonic()


def resolve_clock(clock: Clock | None) -> Clock:
    """Return ``clock``, or :func:`monotonic` when it is ``None``; check it is callable."""
    if clock is None:
        return monotonic
    require_callable("clock", clock)
    return clock
