"""Controlled threads: ``threading.Thread`` methods patched for a run, and ``spawn``.

Code under test often subclasses ``threading.Thread`` at import time, so the
class itself is not replaced: its ``__init__``, ``start``, ``join`` and
``is_alive`` are patched on the real class for the duration of a run, and fall
through to the originals whenever the caller (or the thread) is not controlled.

A started controlled thread runs on a real OS thread -- a parked one from the
exploration's pool (:mod:`.workers`), or a new one -- and its ``run`` is
wrapped: it parks until the scheduler first hands it the baton, and tells the
scheduler when ``run()`` returns or raises. The OS thread never keeps the
interpreter alive (an abandoned thread must not) while ``thread.daemon`` keeps
the value the code asked for: the scheduler uses it to decide when a run is
over (when no non-daemon thread is left, as at interpreter exit).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pytest_concurrency import _realtime
from pytest_concurrency._checks import check_timeout
from pytest_concurrency._patching import Patcher
from pytest_concurrency.world import workers
from pytest_concurrency.world.events import JOINED, READ, WAIT
from pytest_concurrency.world.scheduler import (
    Abort,
    Scheduler,
    ThreadRecord,
    controlling_scheduler,
)

_T = TypeVar("_T")

_Thread = threading.Thread
_original_init = _realtime.thread_init
_original_start = _realtime.thread_start
_original_join = _realtime.thread_join
_original_is_alive = _realtime.thread_is_alive
_RealEvent = _realtime.Event
_RealCondition = _realtime.Condition

_DEFAULT_NAME = re.compile(r"Thread-\d+(?: \((.*)\))?$")

#: the scenario thread's name and label
SCENARIO = "scenario"


def real_event() -> threading.Event:
    """A real ``threading.Event`` whatever ``threading.Lock``/``Condition`` currently are.

    ``Event()`` looks those names up at call time, so calling it from a
    controlled thread during a run would build it from controlled parts.
    """
    event = _RealEvent.__new__(_RealEvent)
    event._cond = _RealCondition(_realtime.allocate_lock())  # type: ignore[attr-defined]
    event._flag = False  # type: ignore[attr-defined]
    return event


def thread_label(thread: threading.Thread, index: int) -> str:
    """A stable, readable name: ``T2 (worker)`` for ``Thread-17 (worker)``, ``T2 reaper``."""
    if index == 0:
        return SCENARIO
    match = _DEFAULT_NAME.match(thread.name)
    if match is None:
        return f"T{index} {thread.name}"
    return f"T{index} ({match.group(1)})" if match.group(1) else f"T{index}"


def launch(sched: Scheduler, thread: threading.Thread) -> ThreadRecord:
    """Start ``thread`` as a controlled thread of ``sched``; it waits for the baton.

    Within a pool's scope (an exploration) the thread is carried by a parked OS
    thread (:mod:`.workers`); otherwise, or when the thread needs one of its
    own, a new OS thread is started.
    """
    # a record whose thread never started (an interrupt landed before) is harmless: the
    # run's cleanup waits only for the threads that do run (see ``started``)
    record = sched.register(thread, thread_label(thread, len(sched.records)), thread.daemon)
    pool = workers.current()
    try:
        carrier = pool.claim(thread) if pool is not None else None
    except BaseException:
        sched.forget(record)
        raise
    if carrier is None:
        return _launch_fresh(sched, thread, record)
    user_run = thread.run

    def carried_run() -> None:
        _controlled(sched, record, user_run)

    assert pool is not None
    # from here the record is never forgotten: the run's cleanup settles the job
    job = pool.job(carrier, thread, carried_run)
    record.carrier = job
    sched.bind(record, carrier.ident)
    pool.hand(job)
    job.started = True
    return record


def _controlled(sched: Scheduler, record: ThreadRecord, user_run: Callable[[], object]) -> None:
    """A controlled thread's whole life: its first turn, the user's ``run()``, its exit."""
    try:
        sched.wait_first_turn(record)
        user_run()
    except Abort:
        pass
    except BaseException as error:
        sched.thread_error(record, error)
    finally:
        sched.thread_exit(record)


def _launch_fresh(sched: Scheduler, thread: threading.Thread, record: ThreadRecord) -> ThreadRecord:
    """Start a new OS thread for ``thread``, whose ``run`` is wrapped for the run's duration."""
    daemon = thread.daemon
    had_own_run = "run" in thread.__dict__
    user_run = thread.run

    def controlled_run() -> None:
        try:
            _controlled(sched, record, user_run)
        finally:
            if had_own_run:
                thread.run = user_run  # type: ignore[method-assign]
            else:
                del thread.run

    try:
        thread.run = controlled_run  # type: ignore[method-assign]
        thread._daemonic = True  # type: ignore[attr-defined]
        _original_start(thread)
    except BaseException:
        if os_thread_created(thread):
            # interrupted (a timeout, Ctrl-C) while start() waited for the new OS
            # thread: it exists and will park before user code, so keep its record
            # for the run's abort to release it into Abort -- forgetting it would
            # leave it parked for ever
            raise
        sched.forget(record)
        if thread.__dict__.get("run") is controlled_run:
            if had_own_run:
                thread.run = user_run  # type: ignore[method-assign]
            else:
                del thread.run
        raise
    finally:
        thread._daemonic = daemon  # type: ignore[attr-defined]
    assert thread.ident is not None
    sched.bind(record, thread.ident)
    return record


def os_thread_created(thread: threading.Thread) -> bool:
    """True once ``Thread.start`` has created the OS thread (it is in limbo, or running)."""
    return thread.ident is not None or thread in threading._limbo  # type: ignore[attr-defined]


def started(record: ThreadRecord) -> bool:
    """True once the record's thread runs somewhere: its run's cleanup must wait for it.

    A carried thread runs once its carrier took the job; a fresh one once its
    OS thread exists.
    """
    job = record.carrier
    if job is not None:
        return bool(job.taken())
    return os_thread_created(record.thread)


def join_os_threads(sched: Scheduler, stuck: list[ThreadRecord], timeout: float) -> None:
    """Wait for the threads of a finished run to be gone (they are past user code).

    A carried thread is gone when its carrier is back in the pool, a fresh one
    when its OS thread has ended.
    """
    for record in sched.records:
        if record in stuck or not record.thread._started.is_set():  # type: ignore[attr-defined]
            continue
        job = record.carrier
        if job is not None and not job.taken():
            continue  # its carrier never took it: settle_carriers ends it
        _original_join(record.thread, timeout)


def settle_carriers(sched: Scheduler, stuck: list[ThreadRecord]) -> None:
    """End the run for the pool: jobs no carrier took are undone, stuck carriers retired."""
    pool = workers.current()
    if pool is not None:
        pool.settle([record.carrier for record in stuck if record.carrier is not None])


def _init(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    if not isinstance(self._started, _RealEvent):  # type: ignore[attr-defined]
        # built from controlled parts by a controlled caller: start() must wait on a real one
        self._started = real_event()  # type: ignore[attr-defined]


def _start(self: threading.Thread) -> None:
    sched = controlling_scheduler()
    if sched is None:
        _original_start(self)
        return
    sched.caller()
    if not getattr(self, "_initialized", False):
        raise RuntimeError("thread.__init__() not called")
    if self._started.is_set():  # type: ignore[attr-defined]
        raise RuntimeError("threads can only be started once")
    record = launch(sched, self)
    # the point comes after the start, so that the new thread may run first
    sched.point("start", record, after=True)


def _controlled_target(thread: threading.Thread) -> tuple[Scheduler, ThreadRecord] | None:
    sched = controlling_scheduler()
    if sched is None:
        return None
    record = sched.record_of(thread)
    return None if record is None else (sched, record)


def _join(self: threading.Thread, timeout: float | None = None) -> None:
    found = _controlled_target(self)
    if found is None:
        _original_join(self, timeout)
        return
    sched, target = found
    me = sched.point("join", target)
    if target is me:
        raise RuntimeError("cannot join current thread")
    deadline = sched.deadline_after(None if timeout is None else max(timeout, 0))
    while not target.finished:
        if deadline is not None and deadline <= sched.now:
            sched.access(target, READ)  # timed out: learnt only that it is still running
            return
        sched.access(target, WAIT)  # only waiting for its end
        sched.block(me, target.is_finished, deadline, "join", target)
    sched.access(target, JOINED)


def _is_alive(self: threading.Thread) -> bool:
    found = _controlled_target(self)
    if found is None:
        return _original_is_alive(self)
    sched, target = found
    sched.point("is_alive", target)
    sched.access(target, READ)
    return not target.finished


def install(patcher: Patcher) -> None:
    """Patch the ``threading.Thread`` methods for one run."""
    patcher.setattr(_Thread, "__init__", _init)
    patcher.setattr(_Thread, "start", _start)
    patcher.setattr(_Thread, "join", _join)
    patcher.setattr(_Thread, "is_alive", _is_alive)


class SpawnHandle(Generic[_T]):
    """A started thread running one call: ``join()`` it, or ask for its ``result()``."""

    __slots__ = ("_error", "_result", "thread")

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self._result: Any = None
        self._error: BaseException | None = None

    def join(self, timeout: float | None = None) -> None:
        """Wait for the call to finish (virtually, inside a run); ``timeout``: None or seconds."""
        limit = check_timeout("timeout", timeout)
        assert self.thread is not None
        self.thread.join(limit)

    def result(self, timeout: float | None = None) -> _T:
        """The call's return value; re-raises its exception; TimeoutError if still running."""
        timeout = check_timeout("timeout", timeout)
        self.join(timeout)
        assert self.thread is not None
        if timeout is not None and self.thread.is_alive():
            raise TimeoutError(f"{self.thread.name} is still running after {timeout} s")
        if self._error is not None:
            raise self._error
        result: _T = self._result
        return result


def spawn(fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> SpawnHandle[_T]:
    """Run ``fn(*args, **kwargs)`` in a new thread: controlled inside a run, plain outside.

    The call's exception is kept for :meth:`SpawnHandle.result` rather than
    reported as an unhandled thread error.
    """
    if not callable(fn):
        raise TypeError(f"spawn(fn, ...): fn must be callable, got {type(fn).__name__}")
    handle: SpawnHandle[_T] = SpawnHandle()

    def call() -> None:
        try:
            handle._result = fn(*args, **kwargs)
        except Abort:
            raise
        except BaseException as error:
            handle._error = error

    name = getattr(fn, "__name__", type(fn).__name__)
    thread = threading.Thread(target=call, daemon=False)
    thread.name = f"{thread.name.split(' ')[0]} ({name})"
    handle.thread = thread
    thread.start()
    return handle
