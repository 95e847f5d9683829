"""Make ``concurrent.futures.ThreadPoolExecutor`` controlled inside a run.

The executor is pure Python over ``threading`` and ``queue.SimpleQueue`` (both
controlled during a run), except for two things fixed here:

* ``concurrent.futures.thread._global_shutdown_lock`` is a real lock created at
  import and held across ``submit``'s queue put (a scheduling point); a second
  controlled submitter would block on it for real. During a run it is replaced
  by a lock that is controlled for the run's threads and the original for
  everyone else.
* An executor created *before* the run has real queues and, often, real
  worker threads already running: work submitted to it would run outside the
  run, unexplored. ``submit`` on it from a controlled thread fails the run
  (see :mod:`.escapes`).
* ``shutdown(wait=True)`` joins ``self._threads``, a *set*: its order follows
  ``id()`` and would make schedules differ between processes. During a run the
  workers are joined in creation order.
"""

from __future__ import annotations

import concurrent.futures.thread as _cf_thread
from typing import Any

from pytest_concurrency._lockctx import AcquireReleaseContext
from pytest_concurrency._patching import Patcher
from pytest_concurrency.world import escapes
from pytest_concurrency.world.locks import Lock
from pytest_concurrency.world.queues import SimpleQueue
from pytest_concurrency.world.scheduler import Scheduler, controlling_scheduler

_ThreadPoolExecutor = _cf_thread.ThreadPoolExecutor
_original_shutdown = _ThreadPoolExecutor.shutdown
_original_submit = _ThreadPoolExecutor.submit


class _PerCallerLock(AcquireReleaseContext):
    """A controlled lock for the run's threads, the original real lock for all others."""

    __slots__ = ("_controlled", "_real")

    def __init__(self, real: Any, controlled: Lock) -> None:
        self._real = real
        self._controlled = controlled

    def _lock(self) -> Any:
        controlled = self._controlled
        return controlled if controlling_scheduler() is controlled._sched else self._real

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return bool(self._lock().acquire(blocking, timeout))

    def release(self) -> None:
        self._lock().release()

    def locked(self) -> bool:
        return bool(self._lock().locked())


def _ordered_shutdown(
    self: _cf_thread.ThreadPoolExecutor, wait: bool = True, *, cancel_futures: bool = False
) -> None:
    _original_shutdown(self, wait=False, cancel_futures=cancel_futures)
    if not wait:
        return
    sched = controlling_scheduler()
    threads = list(self._threads)

    def creation_order(thread: Any) -> tuple[int, str]:
        record = sched.record_of(thread) if sched is not None else None
        return (record.index if record is not None else -1, thread.name)

    for thread in sorted(threads, key=creation_order):
        thread.join()


def _checked_submit(
    self: _cf_thread.ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any
) -> Any:
    sched = controlling_scheduler()
    if sched is not None:
        queue: Any = self._work_queue
        if not (isinstance(queue, SimpleQueue) and queue._sched is sched):
            raise escapes.escape(
                sched,
                f"uncontrolled executor: the scenario submitted work to {_name(self)}, which "
                "was created outside the run; its worker threads are not controlled, so the "
                "work would run unexplored. Create the executor inside the scenario (with "
                "ThreadPoolExecutor() as pool: ...)",
            )
    return _original_submit(self, fn, *args, **kwargs)


def _name(executor: _cf_thread.ThreadPoolExecutor) -> str:
    prefix = getattr(executor, "_thread_name_prefix", "")
    kind = type(executor).__name__
    return f"{kind} {prefix!r}" if prefix else f"a {kind}"


def install(patcher: Patcher, sched: Scheduler) -> None:
    """Install the executor fixes for one run."""
    name = "concurrent.futures.thread._global_shutdown_lock"
    patcher.setattr(
        _cf_thread,
        "_global_shutdown_lock",
        _PerCallerLock(_cf_thread._global_shutdown_lock, Lock(sched, name=name)),
    )
    patcher.setattr(_ThreadPoolExecutor, "shutdown", _ordered_shutdown)
    patcher.setattr(_ThreadPoolExecutor, "submit", _checked_submit)


def forget_run(sched: Scheduler) -> None:
    """Drop the run's workers from the executor module's exit-time registry.

    At interpreter exit ``concurrent.futures`` wakes every registered worker's
    queue; the run's queues are controlled and must not be touched after it.
    """
    registry: Any = _cf_thread._threads_queues
    for record in sched.records:
        registry.pop(record.thread, None)
