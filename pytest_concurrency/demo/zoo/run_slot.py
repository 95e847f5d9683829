"""A run guard: a one-run-at-a-time slot checked outside its (module-level) lock.

The buggy ``begin_run`` looks at the slot before taking the lock, so two
submissions can both see it free and both start. The fixed one checks inside
the lock. The lock is created at import, before any exploration: exploring this
module needs ``interleavings.patch(run_slot)`` (or ``patch=[run_slot]``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_lock = threading.Lock()
_active: str | None = None


def reset() -> None:
    """Forget any run: each scenario starts from a free slot."""
    global _active
    _active = None


def buggy_begin_run(operation: str) -> bool:
    global _active
    if _active is not None:
        return False
    with _lock:
        _active = operation
    return True


def fixed_begin_run(operation: str) -> bool:
    global _active
    with _lock:
        if _active is not None:
            return False
        _active = operation
    return True


def _two_submissions(begin_run: Callable[[str], bool]) -> None:
    reset()
    accepted: list[bool] = []
    threads = [
        threading.Thread(target=lambda op=op: accepted.append(begin_run(op)))
        for op in ("first", "second")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert accepted.count(True) == 1, "two runs were accepted at once"


def buggy() -> None:
    _two_submissions(buggy_begin_run)


def fixed() -> None:
    _two_submissions(fixed_begin_run)
