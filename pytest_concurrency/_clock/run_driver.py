"""A ``FakeClock`` made inside an interleavings run drives the run's clock.

Inside a run the scheduler already owns time and every wait (one virtual time,
see :mod:`pytest_concurrency._time.clock`). A fake clock installed by the
scenario must not swap in its own ``Thread.start`` and waits: the scenario's
threads would escape the run. So it patches nothing and becomes a second driver
of the run's clock: its readings are the run's, ``advance()`` moves the
scheduler's virtual time (then a scheduling point lets the strategy pick who
runs first among the threads it woke), and ``wait_for_sleepers`` is a
controlled wait on virtual time. All of it deterministic, like the run.

:class:`RunTimeline` offers the part of :class:`~.timeline.Timeline`'s
interface that ``FakeClock`` uses, so the clock's methods are the same in and
out of a run.
"""

from __future__ import annotations

import sys
import time

from pytest_concurrency._clock import datetime_bridge, scoped
from pytest_concurrency._clock.datetime_bridge import DatetimeBridge
from pytest_concurrency._clock.waiter import PendingWait
from pytest_concurrency.world.scheduler import Scheduler, ThreadRecord


def fake_datetime(sched: Scheduler, ignore: list[str]) -> None:
    """``datetime.now()`` in the run's threads reads the run's clock, until the run ends.

    When freezegun is already frozen (a fake clock around the exploration) the
    run follows it already; otherwise it is started here at the run's wall
    time and stopped with the run's other patches, whatever happens.
    """
    patcher = sched.run_patcher
    if patcher is None:
        return
    api = sys.modules.get("freezegun.api")
    if api is not None and api.freeze_factories:
        return
    bridge = DatetimeBridge(sched.wall_time(), ignore)
    bridge.start()
    patcher.defer(bridge.stop)
    datetime_bridge.follow_run(patcher, scoped.run_clock)
    # freezegun swapped its own time functions in: the run's go back on top
    for name, replacement in scoped.REPLACEMENTS.items():
        patcher.setattr(time, name, replacement)


class RunTimeline:
    """The run's clock, seen through the fake clock's timeline interface."""

    def __init__(self, sched: Scheduler) -> None:
        self._sched = sched

    @property
    def now(self) -> float:
        return self._sched.now

    def wall(self) -> float:
        return self._sched.wall_time()

    def perf(self) -> float:
        return self._sched.perf_time()

    def monotonic_ns(self) -> int:
        return round(self._sched.now * 1e9)

    def wall_ns(self) -> int:
        return round(self._sched.wall_time() * 1e9)

    def perf_ns(self) -> int:
        return round(self._sched.perf_time() * 1e9)

    def advance_by(self, seconds: float, *, wait_resumed: bool) -> float:
        return self.advance_to(self._sched.now + seconds, wait_resumed=wait_resumed)

    def advance_to(self, target: float, *, wait_resumed: bool) -> float:
        self._sched.advance_clock(target)
        return self._sched.now

    def _sleepers(self) -> list[ThreadRecord]:
        return self._sleepers_of(self._sched.current)

    def earliest(self) -> float | None:
        deadlines = [record.deadline for record in self._sleepers() if record.deadline is not None]
        return min(deadlines) if deadlines else None

    def pending(self) -> list[PendingWait]:
        waits = [
            PendingWait(
                thread_name=record.name,
                thread_ident=record.ident or 0,
                deadline=record.deadline,
                kind=record.waiting_op,
                site="",
            )
            for record in self._sleepers()
            if record.deadline is not None
        ]
        return sorted(waits, key=lambda wait: wait.deadline)

    def wait_for_sleepers(self, count: int, timeout: float) -> bool:
        """Wait (virtual ``timeout`` seconds) until ``count`` other threads are in timed waits."""
        sched = self._sched
        me = sched.point("wait_for_sleepers", f"{count}")
        deadline = sched.now + timeout

        def enough() -> bool:
            return len(self._sleepers_of(me)) >= count

        while not enough():
            if deadline <= sched.now:
                return False
            sched.block(me, enough, deadline, "wait_for_sleepers", None)
        return True

    def _sleepers_of(self, me: ThreadRecord | None) -> list[ThreadRecord]:
        return [
            record
            for record in self._sched.live
            if record is not me and record.blocked and record.deadline is not None
        ]
