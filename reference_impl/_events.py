"""Event factories looked up at call time, and the one method guards need of an event.

``threading.Event`` is resolved when an event is *created*, not when the module
is imported, so a guard built inside an explored scenario gets the explorer's
controlled event. The thread and asyncio twins of a guard share their
bookkeeping through :class:`Signal`, the part of an event they both use.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol


class Signal(Protocol):
    """Setting is all shared code does; waiting is done by the sync or async twin."""

    def set(self) -> None: ...


def thread_event() -> threading.Event:
    """Return a new ``threading.Event`` (the current, possibly controlled, class)."""
    return threading.Event()


def task_event() -> asyncio.Event:
    """Return a new ``asyncio.Event``."""
    return asyncio.Event()
