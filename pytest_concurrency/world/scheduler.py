"""Who runs next: the baton, runnable and blocked threads, virtual time, the run's outcome.

Every controlled thread is a real OS thread parked on its own raw lock; exactly
one of them -- ``current`` -- runs at a time. At a *scheduling point* the running
thread asks the strategy who runs next among the *enabled* threads (always in
creation order, never in hash order), and if it is another thread it releases
that thread's park lock and parks on its own. Because only the baton holder
touches the controlled primitives, they are plain Python state machines with no
locking of their own.

A blocked thread is enabled again when its ``ready`` predicate becomes true (the
lock it wants is free, it was notified, ...) or when virtual time reaches its
deadline. Virtual time belongs to the scheduler: it advances only when no thread
is enabled, straight to the earliest deadline, so ``sleep(480)`` costs nothing and
timeouts fire deterministically. No enabled thread and no deadline is a deadlock.

The fast path (a point with nothing to trace) allocates one small list and
takes no stack snapshot: tracing, stacks and readable names are only collected
when a failing schedule is replayed with a :class:`~.trace.Tracer`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from pytest_concurrency import _realtime
from pytest_concurrency._time.clock import DEFAULT_MONOTONIC, DEFAULT_START, StartPoint
from pytest_concurrency.world.model import (
    Abort,
    EventObserver,
    FailureKind,
    LineHook,
    RunFailure,
    ScheduleMismatch,
    Strategy,
    ThreadRecord,
    Waitable,
)
from pytest_concurrency.world.timers import pending_timers

__all__ = [
    "Abort",
    "EventObserver",
    "FailureKind",
    "LineHook",
    "RunFailure",
    "ScheduleMismatch",
    "Scheduler",
    "Strategy",
    "ThreadRecord",
    "Waitable",
    "active",
    "controlling_scheduler",
    "in_module_body",
]

if TYPE_CHECKING:
    import threading

    from pytest_concurrency.world.trace import Tracer

_get_ident = _realtime.get_ident

#: the run in progress, or None; installed and removed through the run's Patcher
_ACTIVE: Scheduler | None = None

#: virtual ``time.monotonic()`` when a run starts (any value; a fixed one keeps runs identical)
#: unless a fake clock installed around the exploration gives the start (see ``start``)
VIRTUAL_START = DEFAULT_MONOTONIC
#: real seconds the coordinator's abort waits for a handoff in progress (one takes microseconds)
_HANDOFF_GRACE = 1.0


class Scheduler:
    """One run: its threads, the baton, virtual time, the recorded choices, the outcome."""

    __slots__ = (
        "_done_released",
        "_handoff",
        "_next_index",
        "_outsider",
        "_serials",
        "by_ident",
        "by_thread",
        "choices",
        "current",
        "done",
        "events",
        "failure",
        "line_hook",
        "live",
        "max_steps",
        "now",
        "over",
        "records",
        "run_patcher",
        "start",
        "steps",
        "strategy",
        "thread_errors",
        "timer_choices",
        "tracer",
    )

    def __init__(
        self,
        strategy: Strategy,
        *,
        max_steps: int,
        thread_errors: str,
        tracer: Tracer | None = None,
        timer_choices: bool = False,
        start: StartPoint = DEFAULT_START,
    ) -> None:
        self.strategy = strategy
        self.max_steps = max_steps
        self.thread_errors = thread_errors
        self.tracer = tracer
        #: timers="choice": a pending deadline is an option at every decision (see .timers)
        self.timer_choices = timer_choices
        #: set for a run at line granularity by its line backend (see .lines)
        self.line_hook: LineHook | None = None
        self.records: list[ThreadRecord] = []
        self.live: list[ThreadRecord] = []
        self.by_ident: dict[int, ThreadRecord] = {}
        #: id(thread object) -> record; records keep their threads alive, so ids stay unique
        self.by_thread: dict[int, ThreadRecord] = {}
        self.current: ThreadRecord | None = None
        #: where this run's clock starts (see :mod:`pytest_concurrency._time.clock`)
        self.start = start
        self.now = start.monotonic
        self.steps = 0
        self.choices: list[int] = []
        self.over = False
        self.failure: RunFailure | None = None
        #: the coordinator waits on this; released once when the run ends
        self.done = _realtime.allocate_lock()
        self.done.acquire()
        self._done_released = False
        #: excludes the coordinator's abort from a handoff in progress (see :meth:`_switch`)
        self._handoff = _realtime.allocate_lock()
        self._serials: dict[str, int] = {}
        self._next_index = 0
        self._outsider: ThreadRecord | None = None
        #: the Patcher of this run, so that patches applied inside a run are restored with it
        self.run_patcher: Any = None
        #: a strategy that reduces over events (see .dpor) is told of every one
        self.events: EventObserver | None = (
            strategy if getattr(strategy, "observes_events", False) else None  # type: ignore[assignment]
        )

    # -- threads -------------------------------------------------------------------------------

    def register(self, thread: threading.Thread, name: str, daemon: bool) -> ThreadRecord:
        """Create the record of a thread about to be started (its OS thread not yet running)."""
        record = ThreadRecord(self.new_index(), thread, name, daemon)
        self.records.append(record)
        self.live.append(record)
        self.by_thread[id(thread)] = record
        return record

    def new_index(self) -> int:
        """The next actor index in creation order, announced to the strategy.

        Threads and the other actors a strategy chooses among (asyncio tasks)
        share one numbering, so each choice in a token names exactly one of them.
        """
        index = self._next_index
        self._next_index = index + 1
        self.strategy.thread_created(index)
        return index

    def bind(self, record: ThreadRecord, ident: int) -> None:
        """Map the started OS thread to its record, making it a controlled caller."""
        record.ident = ident
        self.by_ident[ident] = record

    def forget(self, record: ThreadRecord) -> None:
        """Undo :meth:`register` for a thread whose OS thread could not be started."""
        self.records.remove(record)
        self.live.remove(record)
        self.by_thread.pop(id(record.thread), None)
        if record.ident is not None:
            self.by_ident.pop(record.ident, None)

    def record_of(self, thread: threading.Thread) -> ThreadRecord | None:
        """The record of a thread object started in this run, if it was."""
        return self.by_thread.get(id(thread))

    def next_serial(self, kind: str) -> int:
        """Creation number of a primitive of ``kind`` in this run: ``Lock#3``."""
        serial = self._serials.get(kind, 0) + 1
        self._serials[kind] = serial
        return serial

    # -- scheduling points -----------------------------------------------------------------------

    def caller(self) -> ThreadRecord:
        """The record of the calling thread, which must hold the baton."""
        me = self.current
        if me is not None and me.ident == _get_ident():
            if self.over:
                raise Abort
            return me
        return self._foreign_caller()

    def _foreign_caller(self) -> ThreadRecord:
        if self.by_ident.get(_get_ident()) is not None:
            # one of this run's threads without the baton: only happens while being aborted
            raise Abort
        import threading

        if self.over:
            # the run is over and its objects are used from elsewhere (a garbage collector
            # callback, an object that outlived the scenario): plain, unscheduled semantics
            if self._outsider is None:
                self._outsider = ThreadRecord(-1, threading.current_thread(), "outside", True)
            return self._outsider
        raise RuntimeError(
            f"a primitive of an interleavings run was used from thread "
            f"{threading.current_thread().name!r}, which the run does not control; objects "
            "created inside a scenario must not be shared with threads started outside it"
        )

    def point(self, op: str, resource: object, *, after: bool = False) -> ThreadRecord:
        """A scheduling point: maybe let another enabled thread run first.

        The point comes before ``op`` (others may act first), except with
        ``after=True`` for an op that creates work for others (``start``).
        """
        me = self.caller()
        if me.index < 0:  # used after the run: no scheduling
            return me
        self.steps += 1
        if self.steps > self.max_steps:
            self._budget_exhausted(me)
        if self.events is not None:
            me.pending = (op, resource)
        nxt = self._pick(me, me)
        tracer = self.tracer
        if tracer is not None:
            switched = nxt if nxt is not me else None
            if after:
                tracer.op(self, me, op, resource, preempted_after_by=switched)
            elif switched is not None:
                tracer.preempted(self, me, op, resource, switched)
        if nxt is not me:
            self._switch(me, nxt)
        if tracer is not None and not after:
            tracer.op(self, me, op, resource)
        return me

    def block(
        self,
        me: ThreadRecord,
        ready: Callable[[], bool] | None,
        deadline: float | None,
        op: str,
        resource: Waitable | None,
    ) -> bool:
        """Park ``me`` until ``ready()`` or virtual time reaches ``deadline``.

        Returns True when resumed because ``ready()`` holds, False on timeout.
        The caller re-checks its own condition: nothing else ran in between.
        """
        if me.index < 0:
            raise RuntimeError(
                f"cannot wait on {resource.label() if resource is not None else 'a timer'}: "
                "the interleavings run it belongs to is over"
            )
        me.blocked = True
        me.ready = ready
        me.deadline = deadline
        me.waiting_on = resource
        me.waiting_op = op
        if self.events is not None:
            me.pending = (op, resource)
        tracer = self.tracer
        if tracer is not None:
            tracer.blocks(self, me, op, resource, deadline)
        try:
            nxt = self._pick(me, None)
            if nxt is not me:
                self._switch(me, nxt)
        finally:
            me.blocked = False
            me.ready = None
            me.deadline = None
            me.waiting_on = None
        woken = ready is not None and ready()
        if tracer is not None:
            tracer.wakes(self, me, op, woken)
        return woken

    def deadline_after(self, timeout: float | None) -> float | None:
        """The virtual deadline ``timeout`` seconds from now (None waits forever)."""
        return None if timeout is None else self.now + timeout

    # -- the run's clock (the Clock protocol of pytest_concurrency._time.clock) ------------------

    def current_time(self) -> float:
        return self.now

    def wall_time(self) -> float:
        start = self.start
        return start.wall + (self.now - start.monotonic)

    def perf_time(self) -> float:
        start = self.start
        return start.perf + (self.now - start.monotonic)

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Always 0: nobody waits for real, time jumps when every thread is blocked."""
        return 0.0

    def set_wall_time(self, wall: float) -> None:
        """Make ``time.time()`` read ``wall`` now (a fake clock made in the run with ``start=``)."""
        start = self.start
        self.start = StartPoint(start.monotonic, wall - (self.now - start.monotonic), start.perf)

    def advance_clock(self, target: float) -> None:
        """Move virtual time forward to ``target``, driven by a thread of the run.

        Threads whose deadline is reached become enabled; a scheduling point
        then lets the strategy decide who runs first, as after any wake-up.
        """
        if target > self.now:
            self.now = target
            if self.tracer is not None:
                self.tracer.time_advanced(self)
        self.point("advance", f"to {target - self.start.monotonic:g} s")

    # -- choosing ------------------------------------------------------------------------------

    def _enabled(self) -> list[ThreadRecord]:
        hook = self.line_hook
        if hook is not None:  # who can run may change from here on: lines must look again
            hook.rearm()
        now = self.now
        enabled = []
        for record in self.live:
            if not record.blocked:
                enabled.append(record)
                continue
            ready = record.ready
            if (ready is not None and ready()) or (
                record.deadline is not None and record.deadline <= now
            ):
                enabled.append(record)
        return enabled

    def _pick(self, me: ThreadRecord, current: ThreadRecord | None) -> ThreadRecord:
        """Who runs next; ``current`` is ``me`` when ``me`` could keep running, else None.

        With timer choices the options are the enabled threads, then the threads
        whose timeout may fire next (see :mod:`.timers`).
        """
        enabled = self._enabled()
        if not enabled:
            enabled = self._advance_time(me)
        timers = pending_timers(self.live, enabled) if self.timer_choices else None
        if timers:
            chosen = self._ask(enabled + timers, current)
            if any(chosen is record for record in timers):
                self._fire_timer(chosen)
            return chosen
        chosen = enabled[0] if len(enabled) == 1 else self._ask(enabled, current)
        if self.events is not None:
            self.events.observe(chosen, enabled)
        return chosen

    def access(self, resource: object, mode: str | None) -> None:
        """What the running event did to ``resource`` (for a reducing strategy; see .dpor)."""
        if self.events is not None:
            self.events.access(resource, mode)

    def touch(self, memory: object) -> None:
        """The running event also touched ``memory`` (an access made with no choice)."""
        if self.events is not None:
            self.events.touch(memory)

    def mark(self) -> int:
        """The running event, for a reducing strategy (-1 without one): see :meth:`after`."""
        return -1 if self.events is None else self.events.mark()

    def after(self, mark: int) -> None:
        """The running event was handed its work by the event ``mark`` (an asyncio callback)."""
        if self.events is not None and mark >= 0:
            self.events.after(mark)

    def _fire_timer(self, record: ThreadRecord) -> None:
        """A timer option was chosen: virtual time jumps to its deadline (it times out)."""
        assert record.deadline is not None
        self.now = record.deadline
        if self.tracer is not None:
            self.tracer.time_advanced(self)

    def _ask(
        self, enabled: list[ThreadRecord], current: ThreadRecord | None, *, step: bool = False
    ) -> ThreadRecord:
        """The strategy's choice among ``enabled`` (index order), recorded for the token.

        ``step``: a choice at an asyncio loop, where ``current`` is its default step.
        """
        strategy = self.strategy
        try:
            if step and current is not None:
                chosen = strategy.choose_step(enabled, current)
            else:
                chosen = strategy.choose(enabled, current)
        except ScheduleMismatch as mismatch:
            kind = "nondeterministic" if mismatch.nondeterministic else "mismatch"
            self.fail(RunFailure(kind, str(mismatch)))
            raise Abort from None
        self.choices.append(chosen.index)
        return chosen

    def choose_own(
        self,
        me: ThreadRecord,
        options: list[ThreadRecord],
        default: ThreadRecord,
        op: str,
        resource: object,
    ) -> ThreadRecord | None:
        """A scheduling point where ``me`` itself can go on in several ways.

        ``options`` are actors ``me`` acts for (the ready tasks of the event loop
        it runs), in index order; ``default`` is the one it would run
        uninstructed. The strategy chooses among them and the other enabled
        threads, ``default`` counting as the running actor (so DFS counts any
        other choice as a preemption). Returns the chosen option, or None when
        another thread was chosen and has since handed the baton back: ``me``'s
        options may have changed meanwhile.
        """
        self.steps += 1
        if self.steps > self.max_steps:
            self._budget_exhausted(me)
        others = [record for record in self._enabled() if record is not me]
        candidates = sorted(options + others, key=_by_index) if others else options
        if len(candidates) == 1:
            chosen = candidates[0]
        else:
            chosen = self._ask(candidates, default, step=True)
        if self.events is not None:
            self.events.observe(chosen, candidates)
        if not any(chosen is record for record in others):
            return chosen
        if self.tracer is not None:
            self.tracer.preempted(self, me, op, resource, chosen)
        self._switch(me, chosen)
        return None

    def _advance_time(self, me: ThreadRecord) -> list[ThreadRecord]:
        deadlines = [r.deadline for r in self.live if r.blocked and r.deadline is not None]
        if not deadlines:
            self._deadlock(me)
        self.now = min(deadlines)
        if self.tracer is not None:
            self.tracer.time_advanced(self)
        return self._enabled()

    # -- the baton -----------------------------------------------------------------------------

    def _switch(self, me: ThreadRecord, nxt: ThreadRecord) -> None:
        handoff = self._handoff
        handoff.acquire()
        if self.over:
            handoff.release()
            raise Abort
        self.current = nxt
        nxt.park.release()
        handoff.release()
        me.park.acquire()
        if self.over:
            raise Abort

    def start_first(self, record: ThreadRecord) -> None:
        """Hand the baton to the scenario thread (called by the coordinator)."""
        self.current = record
        if self.events is not None:
            self.events.observe(record, [record])
        record.park.release()

    def wait_first_turn(self, record: ThreadRecord) -> None:
        """Run by a new controlled thread before any user code: wait for the baton."""
        record.park.acquire()
        if self.over:
            raise Abort

    def thread_exit(self, record: ThreadRecord) -> None:
        """A controlled thread is leaving user code: pass the baton on or end the run."""
        handoff = self._handoff
        try:
            with handoff:
                record.finished = True
                self.live.remove(record)
                if record.ident is not None:
                    self.by_ident.pop(record.ident, None)
                if self.over or self.current is not record:
                    return
                if self.tracer is not None:
                    self.tracer.finished(self, record)
                if self.events is not None:
                    self.events.finished(record)
                if not any(not r.daemon for r in self.live):
                    self.current = None
                    self._end()
                    return
            # picking may run strategy code and detect a deadlock: do it outside the lock
            try:
                nxt = self._pick(record, None)
            except Abort:
                return
            with handoff:
                if self.is_over():  # a deadlock or the coordinator may have ended it
                    return
                self.current = nxt
                nxt.park.release()
        finally:
            record.gone = True
            record.exited.release()

    def thread_error(self, record: ThreadRecord, error: BaseException) -> None:
        """An exception escaped a controlled thread's run()."""
        if record.index == 0:
            self.fail(RunFailure("exception", _describe(error), cause=error, thread=record.name))
        elif self.thread_errors == "fail" and not isinstance(error, SystemExit):
            self.fail(
                RunFailure(
                    "exception",
                    f"thread {record.name} raised {_describe(error)}",
                    cause=error,
                    thread=record.name,
                )
            )
        elif self.tracer is not None:
            self.tracer.note(self, record, f"raised {_describe(error)} (ignored)")

    # -- ending --------------------------------------------------------------------------------

    def is_over(self) -> bool:
        return self.over

    def fail(self, failure: RunFailure) -> None:
        """Record the first failure and end the run; the other threads get aborted."""
        with self._handoff:
            if self.failure is None and not self.over:
                self.failure = failure
            self.over = True
        self._release_done()

    def _end(self) -> None:
        self.over = True
        self._release_done()

    def _release_done(self) -> None:
        if not self._done_released:
            self._done_released = True
            self.done.release()

    def _budget_exhausted(self, me: ThreadRecord) -> None:
        from pytest_concurrency.world import report

        self.fail(
            RunFailure(
                "step-budget",
                f"the run exceeded max_steps={self.max_steps} scheduling points: a thread is "
                "probably spinning (polling a flag or retrying in a loop) without ever blocking",
                details=report.thread_states(self),
                thread=me.name,
            )
        )
        raise Abort

    def _deadlock(self, me: ThreadRecord) -> None:
        from pytest_concurrency.world import report

        self.fail(
            RunFailure(
                "deadlock",
                report.deadlock_summary(self),
                details=report.deadlock_details(self),
                thread=me.name,
                wait_for=report.wait_for_edges(self),
            )
        )
        raise Abort

    def release_all(self) -> None:
        """End the run now (coordinator side): let every parked thread go, to unwind into Abort.

        Every park first, before waiting for any thread (:meth:`wait_all`): an
        interrupt landing in that wait must not leave the later ones parked.
        Calling it again is harmless, so the coordinator repeats it until it has
        run to its end once. Once ``over`` is set and no handoff that began
        before is still in progress, no thread parks again and none releases
        another's park, so a park still locked is either waited on -- release
        it -- or held by a thread already let go, or by the running one, which
        never waits on it again -- releasing it changes nothing. That includes a
        thread whose OS thread is still starting (not bound yet: an interrupt
        can land while ``start()`` waits for it): its first wait returns into
        Abort.

        The coordinator never holds the handoff lock here (an interrupt landing
        while it did would leave the lock held and every thread stuck on it):
        it waits, boundedly, until a handoff in progress is over -- handoffs
        never block while they hold it.
        """
        self.over = True
        handoff = self._handoff
        deadline = _realtime.monotonic() + _HANDOFF_GRACE
        while handoff.locked() and _realtime.monotonic() < deadline:
            _realtime.sleep(0)  # let the thread in the handoff finish it
        for record in self.records:
            park = record.park
            if park.locked():
                park.release()

    def wait_all(self, grace: float, started: Callable[[ThreadRecord], bool]) -> list[ThreadRecord]:
        """Wait for every controlled thread to leave (after :meth:`release_all`).

        Returns the records whose threads did not leave within ``grace``
        seconds each (blocked where the scheduler cannot reach them); they are
        daemon threads and raise :class:`Abort` at their next scheduling point.
        Waiting again after an interrupt gives the same answer without
        waiting for the threads already gone. A record whose thread never
        ``started`` (an interrupt landed between its creation and the start)
        has nothing to wait for.
        """
        stuck: list[ThreadRecord] = []
        for record in self.records:
            park = record.park
            if park.locked():  # a thread registered while release_all ran
                park.release()
            if record.gone or not started(record):
                continue
            if not record.exited.acquire(timeout=grace):
                stuck.append(record)
        return stuck


def _by_index(record: ThreadRecord) -> int:
    return record.index


def _describe(error: BaseException) -> str:
    text = str(error)
    name = type(error).__qualname__
    return f"{name}: {text}" if text else name


def active() -> Scheduler | None:
    """The scheduler of the run in progress, if any."""
    return _ACTIVE


def controlling_scheduler() -> Scheduler | None:
    """The run's scheduler if the calling thread is one of its controlled threads."""
    scheduler = _ACTIVE
    if scheduler is not None and _get_ident() in scheduler.by_ident:
        return scheduler
    return None


def in_module_body() -> bool:
    """True while module-level code runs in this thread (an import in progress).

    Primitives created then are stored in module globals and outlive the run,
    so the factories hand out real ones.
    """
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            return True
        frame = frame.f_back
    return False
