"""The standard library's argument rules for the primitives' waits, written once.

A stand-in that accepted what the C lock refuses (or refused it with another
message: "must be positive" on 3.10-3.12, "must be a non-negative number" on
3.13) would make code behave differently under test than in production. So an
argument the fast check does not accept is handed to a fresh C primitive set up
so that it cannot block -- a free lock, a queue holding an item -- and its own
error, whatever the Python version, is the stand-in's error.
"""

from __future__ import annotations

import _thread
import queue

_TIMEOUT_MAX = _thread.TIMEOUT_MAX
_RealSimpleQueue = queue.SimpleQueue


def lock_timeout(blocking: bool, timeout: float) -> float | None:
    """Validate ``Lock.acquire(blocking, timeout)`` like the C lock; None means wait forever."""
    try:
        valid = timeout == -1 or (blocking and 0 <= timeout <= _TIMEOUT_MAX)
    except TypeError:
        valid = False
    if not valid:
        _thread.allocate_lock().acquire(blocking, timeout)  # raises the C lock's own error
    return None if timeout == -1 else float(timeout)


def queue_timeout(block: bool, timeout: float | None) -> None:
    """Validate ``SimpleQueue.get(block, timeout)`` like the C queue."""
    try:
        valid = not block or timeout is None or timeout >= 0
    except TypeError:
        valid = False
    if not valid:
        probe: queue.SimpleQueue[None] = _RealSimpleQueue()
        probe.put(None)
        probe.get(block, timeout)  # raises the C queue's own error
