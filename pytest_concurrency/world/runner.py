"""Run one schedule: install the world, start the scenario, watch it, tear it all down.

The caller's thread is the *coordinator*: it never runs user code. It waits for
the run to end in short real-time slices -- so pytest-timeout's signal and
KeyboardInterrupt still reach it -- and doubles as the watchdog: when the
thread holding the baton makes no scheduling point for ``uncontrolled_timeout``
seconds it is blocked somewhere the scheduler cannot see, and the run fails
with an UncontrolledBlock instead of hanging. Whatever happens, every
controlled thread is unwound, every OS thread joined and every patch restored.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pytest_concurrency import _realtime
from pytest_concurrency._clock import scoped
from pytest_concurrency._patching import Patcher
from pytest_concurrency._time.clock import DEFAULT_START, StartPoint
from pytest_concurrency.world import executor, patching, report, threads
from pytest_concurrency.world.scheduler import RunFailure, Scheduler, Strategy, ThreadRecord
from pytest_concurrency.world.trace import Tracer

if TYPE_CHECKING:
    from pytest_concurrency.world.aio.runtime import AioWorld
    from pytest_concurrency.world.lines import LineTracing

#: real seconds the coordinator gives each thread to unwind once its run is over
ABORT_GRACE = 1.0
#: real seconds to wait for an unwound OS thread to be gone
JOIN_GRACE = 2.0
#: times a step of the cleanup is tried when interrupts keep cutting it short
CLEANUP_ATTEMPTS = 5

_T = TypeVar("_T")


@dataclass(frozen=True)
class RunSettings:
    """What every run of an exploration shares."""

    max_steps: int
    uncontrolled_timeout: float
    thread_errors: str
    patch_plans: tuple[patching.PatchPlan, ...]
    #: "autojump" or "choice" (see .timers)
    timers: str = "autojump"
    #: line-level preemption (granularity="line"), installed around the exploration
    lines: LineTracing | None = None
    #: asyncio: at most this many CancelledErrors injected per run (see .aio.cancellation)
    inject_cancel: int = 0


@dataclass(frozen=True)
class RunResult:
    """The outcome of one schedule."""

    failure: RunFailure | None
    choices: tuple[int, ...]
    steps: int
    abandoned: tuple[str, ...]
    #: controlled asyncio event loops the run made (inject_cancel needs one)
    loops: int = 0


def run_schedule(
    scenario: Callable[[], object],
    strategy: Strategy,
    settings: RunSettings,
    tracer: Tracer | None = None,
    *,
    on_start: Callable[[Scheduler], object] | None = None,
) -> RunResult:
    """Run ``scenario`` once under ``strategy``; never leaves a thread or a patch behind.

    ``on_start`` is given the run's scheduler before anything runs (to tell what
    the run had done if an interrupt ends it).
    """
    sched = Scheduler(
        strategy,
        max_steps=settings.max_steps,
        thread_errors=settings.thread_errors,
        tracer=tracer,
        timer_choices=settings.timers == "choice",
        start=start_point(),
    )
    if on_start is not None:
        on_start(sched)
    patcher = Patcher()
    sched.run_patcher = patcher
    stuck: list[ThreadRecord] = []
    world: AioWorld | None = None
    try:
        patching.install(patcher, sched, settings.patch_plans)
        if "freezegun.api" in sys.modules:  # else nothing to follow (and datetime is slow)
            from pytest_concurrency._clock import datetime_bridge

            datetime_bridge.follow_run(patcher, scoped.run_clock)
        if settings.lines is not None:
            settings.lines.attach(sched, patcher)
        target = scenario
        if "asyncio" in sys.modules or inspect.iscoroutinefunction(scenario):
            from pytest_concurrency.world.aio import runtime  # asyncio is slow to import

            world, target = runtime.install(patcher, sched, scenario, settings.inject_cancel)
        scenario_thread = threading.Thread(target=target, name=threads.SCENARIO, daemon=False)
        first = threads.launch(sched, scenario_thread)
        sched.start_first(first)
        _watch(sched, settings.uncontrolled_timeout)
    finally:
        try:
            stuck = _end_run(sched, patcher)
        except BaseException:
            # an interrupt may have landed before the cleanup could catch it (on its
            # way in): run it once more -- done already, it costs next to nothing
            _end_run(sched, patcher)
            raise
    if world is not None:
        from pytest_concurrency.world.aio import runtime

        runtime.collect(world)
    return RunResult(
        sched.failure,
        tuple(sched.choices),
        sched.steps,
        tuple(record.name for record in stuck),
        0 if world is None else world.loops,
    )


def start_point() -> StartPoint:
    """Where a run's clock starts: a fake clock installed around the exploration, or fixed.

    The fake clock does not move while the exploration runs (its driver, this
    thread, is busy coordinating), so every run starts at the same reading.
    """
    timeline = scoped.current()
    return DEFAULT_START if timeline is None else StartPoint.of(timeline)


def _end_run(sched: Scheduler, patcher: Patcher) -> list[ThreadRecord]:
    """Unwind every controlled thread and restore every patch, whatever interrupts this.

    An interrupt -- Ctrl-C, a test timeout's signal -- can land at any point of
    the coordinator's cleanup, most likely while it waits for a thread to
    unwind. Every park is released before any wait, every step can be run
    again after being cut short, and each is retried (a few times, so that a
    step failing for good still ends the cleanup); the patches are restored
    in any case. The first interrupt is re-raised once everything is done.
    Returns the records of the threads that could not be stopped.
    """
    interrupts: list[BaseException] = []
    stuck: list[ThreadRecord] = []
    try:
        try:
            _retrying(sched.release_all, interrupts)
            stuck = _retrying(lambda: sched.wait_all(ABORT_GRACE, threads.started), interrupts)
            _retrying(lambda: threads.join_os_threads(sched, stuck, JOIN_GRACE), interrupts)
            _retrying(lambda: threads.settle_carriers(sched, stuck), interrupts)
            _retrying(lambda: executor.forget_run(sched), interrupts)
        finally:
            sched.release_all()  # again, should an interrupt escape the loop above
    finally:
        try:
            _retrying(patcher.restore, interrupts)
        finally:
            patcher.restore()  # again, likewise (nothing is left to do when it ran)
    if interrupts:
        raise interrupts[0]
    return stuck


def _retrying(step: Callable[[], _T], interrupts: list[BaseException]) -> _T:
    """``step()``, run again when an exception cuts it short (kept in ``interrupts``)."""
    for _ in range(CLEANUP_ATTEMPTS - 1):
        try:
            return step()
        except BaseException as error:  # an interrupt: the step can be run again
            interrupts.append(error)
    return step()


def _watch(sched: Scheduler, limit: float) -> None:
    """Wait for the run to end; fail it if the baton holder stops making progress."""
    slice_ = min(0.05, limit / 4)
    last_steps = -1
    last_progress = _realtime.monotonic()
    while not sched.done.acquire(True, slice_):
        now = _realtime.monotonic()
        if sched.steps != last_steps:
            last_steps = sched.steps
            last_progress = now
        elif now - last_progress >= limit:
            sched.fail(report.uncontrolled_failure(sched, limit))
            return
