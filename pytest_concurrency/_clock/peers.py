"""Other time-faking libraries: one virtual clock at a time, and a clear word when two meet.

time-machine patches the C functions behind ``time`` and ``datetime``; the fake
clock patches the module attributes (and freezegun, for ``datetime``). Running
both would leave ``time.time()`` and ``datetime.now()`` telling different
times -- silently, with ``datetime=False`` -- so the fake clock refuses to start
inside a time-machine travel, and while it is installed a travel refuses to
start, each saying what to do instead.
"""

from __future__ import annotations

import sys
from typing import Any

from pytest_concurrency._patching import Patcher

ADVICE = (
    "use one of them in a test: the fake clock already fakes time.time(), "
    "time.monotonic() and, with datetime=True (the default), datetime.now(); "
    "set its start= where the test would travel to, and advance() it"
)


def refuse_active_travel() -> None:
    """Raise when a time-machine travel is in progress (the fake clock cannot start)."""
    time_machine = sys.modules.get("time_machine")
    if time_machine is not None and getattr(time_machine, "traveller_stack", None):
        raise RuntimeError(
            f"a FakeClock cannot start while time-machine is travelling (time_machine.travel "
            f"is active): {ADVICE}"
        )


def refuse_travels(patcher: Patcher) -> None:
    """While the fake clock is installed, a time-machine travel refuses to start."""
    time_machine = sys.modules.get("time_machine")
    travel = getattr(time_machine, "travel", None)
    if travel is None:
        return

    def start(self: Any) -> Any:
        raise RuntimeError(
            f"time_machine.travel cannot start while a FakeClock is installed: {ADVICE}"
        )

    patcher.setattr(travel, "start", start)
