"""Parked OS threads that carry the threads of a run, so that a schedule starts none.

Starting an OS thread is the largest fixed cost of a schedule. Within a
:func:`scope` (an exploration), a thread the scenario starts is *carried* by a
pooled OS thread -- a *carrier* -- parked on its inbox between runs, instead of
a new one. What the code under test can observe stays that of a fresh thread:
the ``Thread`` object is the user's, its identity is its carrier's
(:mod:`.adoption`), and whatever the previous thread left in the carrier's
interpreter state is wiped or, when it cannot be, the carrier ends and a new
one takes its place (:mod:`.thread_state`).

Carriers are raw OS threads (``_thread``), not ``threading.Thread`` objects:
``threading.enumerate()``, the leak detectors and the ``Thread-N`` counter
never see them; only the thread of a run they carry is listed, while it runs.
Each carrier carries at most one thread per run (no two threads of a run share
an ident or a native id), goes back to the idle list when its run is over, and
the idle list is bounded; the scope's end stops and joins every carrier.

Interrupts (Ctrl-C, a test timeout) reach only the coordinator, which starts
the scenario's first thread and cleans up after each run. A hand-over is made
safe by a *gate* per job: the carrier runs a job only if it takes the gate
first, and the run's cleanup (:meth:`WorkerPool.settle`) takes the gate of every
job no carrier took, undoing its start -- so a job is run exactly when its
run's cleanup did not take it back, whichever of the two comes first.

A carrier whose thread was abandoned in an uncontrolled block never returns
to the pool: it ends once its thread finally unwinds.

Some scenarios keep fresh OS threads (see :meth:`WorkerPool.claim`): a
``Thread`` subclass that overrides its bootstrap, a changed
``threading.stack_size()``, an interpreter without what :mod:`.thread_state`
needs, or ``PYTEST_CONCURRENCY_FRESH_THREADS=1`` in the environment.
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.world import adoption
from pytest_concurrency.world.thread_state import CarrierState

#: idle carriers kept between runs; more are started when a run needs them, and end after it
MAX_IDLE = 16
#: real seconds a new carrier may take to report for duty
SPAWN_TIMEOUT = 10.0
#: real seconds the end of a scope waits for each carrier to end
JOIN_TIMEOUT = 2.0
#: set to a non-empty value: every thread of a run gets a fresh OS thread
FRESH_THREADS_ENV = "PYTEST_CONCURRENCY_FRESH_THREADS"

#: the raw starts, captured before any run guards them (see .escapes)
_start_new_thread = _thread.start_new_thread
_start_joinable_thread: Any = getattr(_thread, "start_joinable_thread", None)
_set_sentinel: Any = getattr(_thread, "_set_sentinel", None)
_stack_size = _thread.stack_size


class Job:
    """One thread of a run, handed to a carrier; run only by whoever takes its gate first."""

    __slots__ = ("body", "carrier", "gate", "started", "thread")

    def __init__(self, carrier: Carrier, thread: threading.Thread, body: Callable[[], None]):
        self.carrier = carrier
        self.thread = thread
        self.body = body
        #: taken by the carrier to run the job, or by the run's cleanup to take it back
        self.gate = _realtime.allocate_lock()
        #: set once ``Thread.start`` returned: the code under test saw the thread started
        self.started = False

    def taken(self) -> bool:
        """True once a carrier took the job (until the run's cleanup settles it)."""
        return self.gate.locked()


class Carrier:
    """One pooled OS thread: parked on its inbox, runs one job at a time."""

    __slots__ = (
        "_end",
        "_handle",
        "abandoned",
        "failure",
        "ident",
        "inbox",
        "native_id",
        "pool",
        "ready",
    )

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.inbox: Any = _thread_queue()
        self.ident = 0
        self.native_id: int | None = None
        #: released by the carrier once it has reported (or failed to)
        self.ready = _realtime.allocate_lock()
        self.ready.acquire()
        self.failure: BaseException | None = None
        #: its thread was abandoned by its run: it must never carry another
        self.abandoned = False
        #: 3.10-3.12: released by the interpreter when the OS thread's state is deleted
        self._end: Any = None
        #: 3.13: the OS thread's handle
        self._handle: Any = None

    def start(self) -> None:
        if _start_joinable_thread is not None:
            self._handle = _start_joinable_thread(self._serve, daemon=True)
        else:
            _start_new_thread(self._serve, ())

    def gone(self) -> bool:
        """True once the OS thread has ended (its interpreter state is deleted)."""
        if self._handle is not None:
            return bool(self._handle.is_done())
        end = self._end
        return end is not None and not end.locked()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` real seconds for the OS thread to end."""
        if self._handle is not None:
            self._handle.join(timeout)
            return bool(self._handle.is_done())
        end = self._end
        if end is None:
            return False
        if end.acquire(True, timeout):
            end.release()
            return True
        return False

    def _serve(self) -> None:
        try:
            if _set_sentinel is not None:
                end = _set_sentinel()
                end.acquire()
                self._end = end
            self.ident = _realtime.get_ident()
            self.native_id = threading.get_native_id()
            state = CarrierState()
        except BaseException as error:  # the pool falls back on fresh threads
            self.failure = error
            self.ready.release()
            return
        self.ready.release()
        take = self.inbox.get
        while True:
            job = take()
            if job is None:
                return
            if not job.gate.acquire(False):
                continue  # taken back by its run's cleanup: never started
            if not self._carry(job, state):
                return

    def _carry(self, job: Job, state: CarrierState) -> bool:
        """Run one job as a fresh thread would; True when this carrier may carry another."""
        thread = job.thread
        keep = False
        try:
            try:
                state.run(job.body)
            except BaseException:  # as a thread's bootstrap does: the excepthook reports it
                thread._invoke_excepthook(thread)  # type: ignore[attr-defined]
            finally:
                adoption.leave(thread, self.ident)
            clean = state.wipe()
            adoption.forget_dummy(self.ident)
            keep = self.pool._finished(self, clean)
        finally:
            adoption.end(thread)  # last: joining the thread means its carrier is back
        return keep


def _thread_queue() -> Any:
    """A C ``SimpleQueue``: its put and get are atomic, and never patched by a run."""
    import _queue

    return _queue.SimpleQueue()


class WorkerPool:
    """The carriers of one scope: idle, busy, or on their way out.

    No lock guards the pool's lists: an interrupt landing while the
    coordinator held one would leave every carrier blocked on it. Each change
    is one list or deque operation, atomic under the GIL; an interrupt
    between two of them can at worst drop a carrier from the idle list, and
    the scope's end still stops it (every carrier is a member until it has
    ended).
    """

    def __init__(self, max_idle: int = MAX_IDLE) -> None:
        if max_idle < 0:
            raise ValueError(f"max_idle must be >= 0, got {max_idle}")
        self.max_idle = max_idle
        self._idle: list[Carrier] = []
        #: carriers done with their thread of the run in progress: idle again after it
        self._returned: list[Carrier] = []
        #: carriers ending (no longer wanted, or unable to start fresh): reaped once ended
        self._leaving: deque[Carrier] = deque()
        #: every carrier started and not yet seen ended
        self._members: list[Carrier] = []
        #: the jobs of the run in progress
        self._jobs: list[Job] = []
        self._closed = False
        #: why the pool hands out no carriers (fresh threads are used), or None
        self.unavailable: str | None = _unavailable()
        self._stack_size = _stack_size()

    # -- a run's side -------------------------------------------------------------------------

    def claim(self, thread: threading.Thread) -> Carrier | None:
        """A parked carrier for ``thread``, or None when it must get a fresh OS thread."""
        if self.unavailable is not None or self._closed:
            return None
        kind = type(thread)
        if (
            kind._bootstrap is not _BOOTSTRAP  # type: ignore[attr-defined]
            or kind._bootstrap_inner is not _BOOTSTRAP_INNER  # type: ignore[attr-defined]
            or _stack_size() != self._stack_size
        ):
            return None
        try:
            return self._idle.pop()
        except IndexError:
            return self._spawn()

    def job(self, carrier: Carrier, thread: threading.Thread, body: Callable[[], None]) -> Job:
        """The job of running ``body`` as ``thread``'s ``run()`` on ``carrier``, for this run."""
        job = Job(carrier, thread, body)
        self._jobs.append(job)  # the run's cleanup settles every job it knows
        return job

    def hand(self, job: Job) -> None:
        """Start the job's thread: it looks started, and its carrier wakes up to run it."""
        adoption.adopt(job.thread, job.carrier.ident, job.carrier.native_id)
        job.carrier.inbox.put(job)

    def settle(self, stuck: Collection[object]) -> None:
        """End a run: take back the jobs no carrier took, retire the abandoned carriers.

        A job no carrier took by now never ran any code: its thread either ends
        here (it was seen started, as a thread aborted before its first
        instruction) or, if its start was cut short by an interrupt, looks never
        started. Called by the coordinator once the run's threads are gone or
        given up on (``stuck``: their jobs); repeatable after an interrupt.
        """
        for job in self._jobs:
            if job.gate.acquire(False):  # never taken by its carrier: it never ran
                if job.started:
                    adoption.leave(job.thread, job.carrier.ident)
                    adoption.end(job.thread)
                else:
                    adoption.unadopt(job.thread, job.carrier.ident)
                if job.carrier not in self._returned:
                    self._returned.append(job.carrier)
            if job in stuck:
                job.carrier.abandoned = True  # it ends once its thread unwinds
        self._jobs.clear()
        returned = self._returned
        while returned:
            carrier = returned.pop()
            if carrier.abandoned:  # it finished after all, but is never handed out again
                self._retire(carrier)
            elif len(self._idle) < self.max_idle:
                self._idle.append(carrier)
            else:
                self._retire(carrier)
        self._reap()

    # -- a carrier's side -----------------------------------------------------------------------

    def _finished(self, carrier: Carrier, clean: bool) -> bool:
        """A carrier is done with its thread: back to the pool, or on its way out."""
        if clean and not carrier.abandoned and not self._closed:
            self._returned.append(carrier)
            return True
        self._leaving.append(carrier)
        return False

    # -- the pool's own ---------------------------------------------------------------------------

    def _retire(self, carrier: Carrier) -> None:
        """Tell a carrier to end; it is forgotten once it has."""
        carrier.inbox.put(None)
        self._leaving.append(carrier)

    def _reap(self) -> None:
        """Forget the carriers that have ended: memory stays flat however long the scope."""
        leaving = self._leaving
        for _ in range(len(leaving)):
            carrier = leaving.popleft()
            if not carrier.gone():
                leaving.append(carrier)
            elif carrier in self._members:
                self._members.remove(carrier)

    def _spawn(self) -> Carrier | None:
        carrier = Carrier(self)
        self._members.append(carrier)  # first: the scope's end stops every member
        carrier.start()
        if not carrier.ready.acquire(True, SPAWN_TIMEOUT):
            raise RuntimeError(f"a pooled OS thread did not start within {SPAWN_TIMEOUT:g} s")
        if carrier.failure is not None:
            self.unavailable = f"{type(carrier.failure).__name__}: {carrier.failure}"
            return None
        return carrier

    def close(self) -> None:
        """Stop every carrier and join them (abandoned ones end when they unwind).

        Repeatable: an interrupt cutting it short leaves nothing a second call
        cannot finish.
        """
        self._closed = True
        self._idle.clear()
        self._returned.clear()
        members = list(self._members)
        for carrier in members:
            carrier.inbox.put(None)  # a busy carrier ends after its thread
        for carrier in members:
            if not carrier.abandoned:
                carrier.join(JOIN_TIMEOUT)
        self._members = [carrier for carrier in members if not carrier.gone()]

    @property
    def size(self) -> int:
        """Carriers started and not yet seen ended (for tests and the bench)."""
        return len(self._members)

    @property
    def idle(self) -> int:
        """Carriers parked for the next run."""
        return len(self._idle)


def _unavailable() -> str | None:
    """Why this interpreter cannot pool threads, or None."""
    gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if gil_enabled is not None and not gil_enabled():
        return "a free-threaded build: the pool relies on the GIL for its atomic steps"
    return None


_BOOTSTRAP = threading.Thread._bootstrap  # type: ignore[attr-defined]
_BOOTSTRAP_INNER = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

#: the pool of the scope in progress, or None (fresh OS threads)
_CURRENT: WorkerPool | None = None
#: times the end of a scope retries closing its pool when interrupts cut it short
_CLOSE_ATTEMPTS = 5


def current() -> WorkerPool | None:
    """The pool runs take their carriers from now, or None."""
    return _CURRENT


@contextmanager
def scope(max_idle: int = MAX_IDLE) -> Iterator[WorkerPool | None]:
    """Runs inside share one pool, stopped and joined at the end (nothing when nested)."""
    global _CURRENT
    if _CURRENT is not None or os.environ.get(FRESH_THREADS_ENV):
        yield _CURRENT
        return
    pool = WorkerPool(max_idle)  # no carrier yet: nothing to stop if an interrupt lands here
    try:
        _CURRENT = pool
        yield pool
    finally:
        try:
            _CURRENT = None
            _close(pool)
        except BaseException:
            # an interrupt may have landed before the closing could catch it (on its way
            # in): close once more -- done already, it costs next to nothing
            _CURRENT = None
            _close(pool)
            raise


def _close(pool: WorkerPool) -> None:
    """Close ``pool`` whatever interrupts this; the first interrupt is re-raised at the end."""
    interrupts: list[BaseException] = []
    for _ in range(_CLOSE_ATTEMPTS):
        try:
            pool.close()
            break
        except BaseException as error:  # an interrupt: closing again finishes it
            interrupts.append(error)
    if interrupts:
        raise interrupts[0]
