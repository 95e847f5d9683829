"""Make ``concurrent.futures.ThreadPoolExecutor`` controlled inside a run.

The executor is pure Python over ``threading`` and ``queue.SimpleQueue`` (both
controlled during a run), except for two things fixed here:

* ``concurrent.futures.thread._global_shutdown_lock`` is a real lock created at
  import and held across ``submit``'s queue put (a scheduling point); a second
  controlled submitter would block on it for real. During a run it is replaced
  by a lock that is controlled for the run's threads and the original for
  everyone else.
* ``shutdown(wait=True)`` joins ``self._threads``, a *set*: its order follows
  ``id()`` and would make schedules differ between processes. During a run the
  workers are joined in creation order.
"""

from __future__ import annotations

import concurrent.futures.thread as _cf_thread
from typing import Any

from pytest_concurrency._lockctx import AcquireReleaseContext
from pytest_concurrency._patching import Patcher
from pytest_concurrency.world.locks import Lock
from pytest_concurrency.world.scheduler import Scheduler, controlling_scheduler

_ThreadPoolExecutor = _cf_thread.ThreadPoolExecutor
_original_shutdown = _ThreadPoolExecutor.shutdown


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


def install(patcher: Patcher, sched: Scheduler) -> None:
    """Install the executor fixes for one run."""
    name = "concurrent.futures.thread._global_shutdown_lock"
    patcher.setattr(
        _cf_thread,
        "_global_shutdown_lock",
        _PerCallerLock(_cf_thread._global_shutdown_lock, Lock(sched, name=name)),
    )
    patcher.setattr(_ThreadPoolExecutor, "shutdown", _ordered_shutdown)


def forget_run(sched: Scheduler) -> None:
    """Drop the run's workers from the executor module's exit-time registry.

    At interpreter exit ``concurrent.futures`` wakes every registered worker's
    queue; the run's queues are controlled and must not be touched after it.
    """
    registry: Any = _cf_thread._threads_queues
    for record in sched.records:
        registry.pop(record.thread, None)
