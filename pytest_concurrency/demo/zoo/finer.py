"""The exhibits only finer exploration sees: line-level preemption, timers as choices.

Each is a :class:`~pytest_concurrency.demo.zoo.ZooBug` (buggy and fixed
scenarios) with the ``explore`` options that reveal it. Under the default
options -- ``granularity="sync"``, ``timers="autojump"`` -- every buggy
scenario here passes even an exhaustive dfs: that contrast is what the demo
and tests/zoo show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_concurrency.demo.zoo import ZooBug

#: explore options that make every traced line a scheduling point
LINE = (("granularity", "line"),)
#: explore options that make a pending timeout firing a choice of its own
TIMER_CHOICE = (("timers", "choice"),)


@dataclass(frozen=True)
class FinerBug:
    """An exhibit and the explore options under which it is found."""

    bug: ZooBug
    reveal: tuple[tuple[str, str], ...]

    def options(self) -> dict[str, Any]:
        """The revealing options, as keyword arguments for ``explore``."""
        return dict(self.reveal)


FINER_ZOO = (
    FinerBug(ZooBug("lost update in self.value += 1", "lost_update", "classic"), LINE),
    FinerBug(
        ZooBug("check-then-set on a shared dict", "check_then_set", "a cache without its lock"),
        LINE,
    ),
    FinerBug(
        ZooBug(
            "lazy singleton without a lock",
            "lazy_singleton",
            "classic",
            patch=("pytest_concurrency.demo.zoo.lazy_singleton",),
        ),
        LINE,
    ),
    FinerBug(
        ZooBug(
            "timeout fires just before the notify",
            "timeout_race",
            "a turnstile's fail-open timeout",
        ),
        TIMER_CHOICE,
    ),
)


def start_and_join(*targets: Callable[[], object]) -> None:
    """Run each target on its own thread: start them all, then join them all.

    Plain threading, kept out of the exhibits' modules so that their
    scenarios' bookkeeping lines are not traced: only the guards' lines are.
    """
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
