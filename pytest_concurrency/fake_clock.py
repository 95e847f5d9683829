"""A virtual clock that drives the *waits*, for code running on real threads.

Fake-clock libraries freeze what ``time.time()`` *reads*; a thread parked in
``time.sleep(480)`` or ``Condition.wait(30)`` still blocks for real. A deferred
deleter parked one pool thread per pending delete in ``sleep(480)``; testing
its replacement (one janitor thread, a heap, ``Condition.wait(timeout)``) means
waiting minutes -- unless the waits themselves run on virtual time.

``FakeClock`` moves ``time.monotonic``/``perf_counter``/``time`` (and ``_ns``),
``datetime`` (through freezegun) and the waits: ``time.sleep``,
``Condition.wait``/``wait_for``, ``Event.wait``, ``Semaphore``/``Lock``/
``RLock`` timed acquires, ``Thread.join``, ``queue.Queue`` timeouts and
asyncio's timers. Scope and driver rules: see ``docs/guide/fake-clock.md`` and
:mod:`pytest_concurrency._clock.timeline`.
"""

from __future__ import annotations

import time as _time_module
from collections.abc import Iterable
from datetime import datetime as _datetime
from datetime import timezone
from types import TracebackType
from typing import TYPE_CHECKING

from pytest_concurrency import _realtime
from pytest_concurrency._checks import check_seconds
from pytest_concurrency._clock import (
    asyncio_patches,
    peers,
    run_driver,
    scoped,
    threading_patches,
)
from pytest_concurrency._clock.captured import SCANNER, FakeClockWarning
from pytest_concurrency._clock.datetime_bridge import DATETIME_RANGE, DatetimeBridge
from pytest_concurrency._clock.harness import ModuleRules
from pytest_concurrency._clock.scope import Scope
from pytest_concurrency._clock.timeline import Epoch, Timeline, WallRange
from pytest_concurrency._clock.waiter import PendingWait
from pytest_concurrency._patching import Patcher

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler

__all__ = ["FakeClock", "FakeClockWarning", "PendingWait"]


def _wall_ns(start: _datetime | float | None, allowed: WallRange) -> int:
    """``start`` as epoch nanoseconds, checked against the wall times the clock can show."""
    if start is None:
        return _realtime.time_ns()
    if isinstance(start, _datetime):
        aware = start if start.tzinfo is not None else start.replace(tzinfo=timezone.utc)
        seconds = aware.timestamp()
    else:
        try:
            seconds = check_seconds("start", start, allow_negative=True)
        except TypeError:
            raise TypeError(
                f"start must be a datetime (naive means UTC) or epoch seconds, got {start!r}"
            ) from None
    allowed.check_start(seconds, start)
    return round(seconds * 1e9)


class FakeClock:
    """One virtual clock for the test's thread and the threads and tasks it starts.

    ``with FakeClock() as clock:`` (or ``install()``/``uninstall()``; the
    ``fake_clock`` fixture does it for a test). Virtual ``monotonic()`` starts
    at the real reading at creation, ``time()`` at the real wall time (or
    ``start``: a datetime, naive meaning UTC, or epoch seconds); the three move
    together and only forward.

    ``datetime=False`` leaves ``datetime`` real (and skips freezegun's start
    cost). ``real_modules`` names more modules (and their submodules) that must
    keep real time, like the harness. ``resume_timeout`` bounds, in real
    seconds, how long :meth:`advance` waits for the threads it woke to resume.
    """

    def __init__(
        self,
        *,
        start: _datetime | float | None = None,
        datetime: bool = True,
        real_modules: Iterable[str] = (),
        resume_timeout: float = 2.0,
    ) -> None:
        if not isinstance(datetime, bool):
            raise TypeError(f"datetime must be True or False, got {datetime!r}")
        if isinstance(real_modules, str):
            raise TypeError(
                f"real_modules must be an iterable of module names, not one string: "
                f"use ({real_modules!r},)"
            )
        extra = tuple(real_modules)
        for name in extra:
            if not isinstance(name, str) or not name:
                raise TypeError(f"real_modules must hold module names (str), got {name!r}")
        resume = check_seconds("resume_timeout", resume_timeout, allow_zero=False)
        allowed = DATETIME_RANGE if datetime else WallRange()
        epoch = Epoch(
            monotonic_ns=_realtime.monotonic_ns(),
            wall_ns=_wall_ns(start, allowed),
            perf_ns=_realtime.perf_counter_ns(),
        )
        self._timeline = Timeline(epoch, resume_timeout=resume, wall_range=allowed)
        self._fake_datetime = datetime
        self._rules = ModuleRules(extra)
        self._patcher: Patcher | None = None
        self._bridge: DatetimeBridge | None = None
        self._patched: tuple[tuple[str, str], ...] = ()
        self._start_given = start is not None
        #: the timeline of its own, while this clock drives a run's clock instead
        self._own_timeline: Timeline | None = None

    # -- installing ---------------------------------------------------------------------

    @property
    def installed(self) -> bool:
        """True between :meth:`install` and :meth:`uninstall`."""
        return self._patcher is not None or self._own_timeline is not None

    def install(self) -> FakeClock:
        """Start driving time and waits; the calling thread becomes the driver.

        In a thread of an interleavings run the run already owns time and every
        wait: the clock then patches nothing and drives the run's clock (see
        :mod:`pytest_concurrency._clock.run_driver`).
        """
        if self.installed:
            raise RuntimeError("this FakeClock is already installed")
        sched = scoped.run_clock()
        if sched is not None:
            self._drive_run(sched)
            return self
        if scoped.installed() is not None:
            raise RuntimeError(
                "another FakeClock is already installed; uninstall it before installing "
                "this one (one virtual clock at a time)"
            )
        peers.refuse_active_travel()
        timeline = self._timeline
        patcher = Patcher()
        bridge = None
        try:
            peers.refuse_travels(patcher)
            if self._fake_datetime:
                bridge = DatetimeBridge(timeline.wall(), self._rules.freezegun_ignore())
                bridge.start()
                timeline.on_advance = lambda _now: bridge.sync(timeline.wall())
            for name, replacement in scoped.REPLACEMENTS.items():
                patcher.setattr(_time_module, name, replacement)
            patched = SCANNER.patch(patcher, self._rules)
            threading_patches.install(patcher)
            asyncio_patches.install(patcher)
            timeline.activate(Scope())
            scoped.activate(timeline, self._rules)
        except BaseException:
            timeline.deactivate()
            timeline.on_advance = None
            try:
                patcher.restore()
            finally:
                if bridge is not None:
                    bridge.stop()
            raise
        self._patcher, self._bridge = patcher, bridge
        self._patched = tuple(sorted(patched))
        return self

    def uninstall(self) -> None:
        """Restore every patched global and wake every thread still parked on this clock.

        Parked timed waits end as timed out; code that then re-checks the time
        (``wait_for``, ``Queue.get``) goes on waiting for what remains in *real*
        time. Untimed waits go on waiting for their notification. A no-op when
        not installed.
        """
        own = self._own_timeline
        if own is not None:
            self._own_timeline = None
            self._timeline = own
            return
        patcher, bridge = self._patcher, self._bridge
        if patcher is None:
            return
        self._patcher = self._bridge = None
        timeline = self._timeline
        scoped.deactivate(timeline)
        try:
            timeline.deactivate()
        finally:
            timeline.on_advance = None
            try:
                patcher.restore()
            finally:
                if bridge is not None:
                    bridge.stop()

    def _drive_run(self, sched: Scheduler) -> None:
        """Become a driver of the run's clock: readings and ``advance`` are the run's."""
        if self._start_given:
            sched.set_wall_time(self._timeline.wall())
        if self._fake_datetime:
            run_driver.fake_datetime(sched, self._rules.freezegun_ignore())
        self._own_timeline = self._timeline
        self._timeline = run_driver.RunTimeline(sched)  # type: ignore[assignment]

    def __enter__(self) -> FakeClock:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    # -- reading --------------------------------------------------------------------------

    def monotonic(self) -> float:
        """Virtual ``time.monotonic()``."""
        return self._timeline.now

    def perf_counter(self) -> float:
        """Virtual ``time.perf_counter()``."""
        return self._timeline.perf()

    def time(self) -> float:
        """Virtual ``time.time()`` (epoch seconds)."""
        return self._timeline.wall()

    def monotonic_ns(self) -> int:
        return self._timeline.monotonic_ns()

    def perf_counter_ns(self) -> int:
        return self._timeline.perf_ns()

    def time_ns(self) -> int:
        return self._timeline.wall_ns()

    # -- moving ---------------------------------------------------------------------------

    def advance(self, seconds: float) -> float:
        """Move virtual time forward by ``seconds``; return the new ``monotonic()``.

        Every thread whose deadline is passed wakes, and this returns once each
        of them has *resumed* (left its wait; bounded by ``resume_timeout`` real
        seconds, then ``RuntimeError`` naming the threads). What they do next
        runs concurrently: use :meth:`wait_for_sleepers` to wait until they are
        parked again.
        """
        amount = check_seconds("seconds", seconds)
        return self._timeline.advance_by(amount, wait_resumed=True)

    def advance_to(self, monotonic_value: float) -> float:
        """Move virtual ``monotonic()`` to ``monotonic_value`` (not earlier than now)."""
        target = check_seconds("monotonic_value", monotonic_value, allow_negative=True)
        if target < self._timeline.now:
            raise ValueError(
                f"monotonic_value must be >= the current virtual monotonic() "
                f"{self._timeline.now!r} (the fake clock never goes backwards), got {target!r}"
            )
        self._timeline.check_move(target, "monotonic_value", target)
        return self._timeline.advance_to(target, wait_resumed=True)

    def advance_to_next(self) -> float | None:
        """Jump to the earliest pending deadline and wake its sleepers; None if nobody waits."""
        target = self._timeline.earliest()
        if target is None:
            return None
        return self._timeline.advance_to(target, wait_resumed=True)

    # -- observing --------------------------------------------------------------------------

    @property
    def pending(self) -> list[PendingWait]:
        """The timed virtual waits in progress, earliest deadline first."""
        return self._timeline.pending()

    def wait_for_sleepers(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` other threads are parked in timed virtual waits.

        Bounded by ``timeout`` *real* seconds: returns False when they were not
        all parked by then.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be an int >= 0, got {count!r}")
        limit = check_seconds("timeout", timeout)
        return self._timeline.wait_for_sleepers(count, limit)

    @property
    def patched_modules(self) -> tuple[str, ...]:
        """Modules whose captured time functions follow this clock while installed."""
        return tuple(sorted({module for module, _ in self._patched}))

    @property
    def patched_names(self) -> tuple[str, ...]:
        """Each replaced capture: ``module.attr``, or ``module.func (default)`` for defaults."""
        return tuple(where for _, where in self._patched)

    def __repr__(self) -> str:
        state = "installed" if self.installed else "not installed"
        return f"<FakeClock {state} monotonic={self._timeline.now:.6f} pending={len(self.pending)}>"
