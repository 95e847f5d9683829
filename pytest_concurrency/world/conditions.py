"""Controlled ``threading.Condition``, ``threading.Event`` and ``threading.Barrier``.

Each waiter gets its own wake-up flag, as in CPython: a ``notify`` or ``set``
wakes the threads waiting *at that moment*, even if the predicate or the flag
changes again before they run. Waits take virtual timeouts.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_concurrency.world.locks import RLock, _OwnedLock
from pytest_concurrency.world.primitives import Primitive

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler

_T = TypeVar("_T")


class _Waiter:
    """One waiting thread's wake-up flag."""

    __slots__ = ("woken",)

    def __init__(self) -> None:
        self.woken = False

    def is_woken(self) -> bool:
        return self.woken


def _discard(waiters: deque[_Waiter], waiter: _Waiter) -> None:
    try:
        waiters.remove(waiter)
    except ValueError:
        pass


class Condition(Primitive):
    """A condition variable over a controlled Lock or RLock (an RLock by default)."""

    __slots__ = ("_lock", "_waiters")

    KIND = "Condition"

    def __init__(self, sched: Scheduler, lock: Any = None, name: str | None = None) -> None:
        super().__init__(sched, name)
        if lock is None:
            lock = RLock(sched)
        elif not isinstance(lock, _OwnedLock) or lock._sched is not sched:
            raise TypeError(
                f"Condition(lock): {lock!r} is not a lock of this interleavings run; a lock "
                "created before the run (e.g. at module level) must be swapped in with "
                "interleavings.patch(its module or object)"
            )
        self._lock: _OwnedLock = lock
        self._waiters: deque[_Waiter] = deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        sched = self._sched
        me = sched.point("wait", self)
        lock = self._lock
        if not lock._is_owned(me):
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = _Waiter()
        self._waiters.append(waiter)
        state = lock._release_save(me)
        if timeout is None or timeout > 0:
            sched.block(me, waiter.is_woken, sched.deadline_after(timeout), "wait", self)
        if not waiter.woken:
            _discard(self._waiters, waiter)
        lock._acquire_restore(me, state)
        return waiter.woken

    def wait_for(self, predicate: Callable[[], _T], timeout: float | None = None) -> _T:
        sched = self._sched
        end: float | None = None
        wait = timeout
        result = predicate()
        while not result:
            if wait is not None:
                if end is None:
                    end = sched.now + wait
                else:
                    wait = end - sched.now
                    if wait <= 0:
                        break
            self.wait(wait)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        self._notify("notify", n)

    def notify_all(self) -> None:
        self._notify("notify_all", None)

    def _notify(self, op: str, n: int | None) -> None:
        me = self._sched.point(op, self)
        if not self._lock._is_owned(me):
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters = self._waiters
        count = len(waiters) if n is None else min(n, len(waiters))
        for _ in range(count):
            waiters.popleft().woken = True


class Event(Primitive):
    """A flag threads can wait for."""

    __slots__ = ("_flag", "_waiters")

    KIND = "Event"

    def __init__(self, sched: Scheduler, name: str | None = None, *, flag: bool = False) -> None:
        super().__init__(sched, name)
        self._flag = flag
        self._waiters: deque[_Waiter] = deque()

    def is_set(self) -> bool:
        self._sched.point("is_set", self)
        return self._flag

    def set(self) -> None:
        self._sched.point("set", self)
        self._flag = True
        for waiter in self._waiters:
            waiter.woken = True
        self._waiters.clear()

    def clear(self) -> None:
        self._sched.point("clear", self)
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        sched = self._sched
        me = sched.point("wait", self)
        if self._flag:
            return True
        if timeout is not None and timeout <= 0:
            return False
        waiter = _Waiter()
        self._waiters.append(waiter)
        sched.block(me, waiter.is_woken, sched.deadline_after(timeout), "wait", self)
        if not waiter.woken:
            _discard(self._waiters, waiter)
        return waiter.woken


class _Cycle:
    """One filling of a barrier: released when full, broken by abort/reset/timeout."""

    __slots__ = ("broken", "released")

    def __init__(self) -> None:
        self.released = False
        self.broken = False

    def is_over(self) -> bool:
        return self.released or self.broken


class Barrier(Primitive):
    """``parties`` threads wait until all have arrived, then all proceed."""

    __slots__ = ("_action", "_broken", "_count", "_cycle", "_parties", "_timeout")

    KIND = "Barrier"

    def __init__(
        self,
        sched: Scheduler,
        parties: int,
        action: Callable[[], object] | None = None,
        timeout: float | None = None,
        name: str | None = None,
    ) -> None:
        if parties < 1:
            raise ValueError("parties must be > 0")
        super().__init__(sched, name)
        self._parties = parties
        self._action = action
        self._timeout = timeout
        self._count = 0
        self._cycle = _Cycle()
        self._broken = False

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None:
            timeout = self._timeout
        sched = self._sched
        me = sched.point("wait", self)
        if self._broken:
            raise threading.BrokenBarrierError
        cycle = self._cycle
        index = self._count
        self._count += 1
        if self._count == self._parties:
            if self._action is not None:
                try:
                    self._action()
                except BaseException:
                    self._break()
                    raise
            cycle.released = True
            self._cycle = _Cycle()
            self._count = 0
            return index
        sched.block(me, cycle.is_over, sched.deadline_after(timeout), "wait", self)
        if cycle.released:
            return index
        if not cycle.broken:  # timed out: like CPython, that breaks the barrier for everyone
            self._break()
        raise threading.BrokenBarrierError

    def reset(self) -> None:
        self._sched.point("reset", self)
        if self._count:
            self._cycle.broken = True
        self._cycle = _Cycle()
        self._count = 0
        self._broken = False

    def abort(self) -> None:
        self._sched.point("abort", self)
        self._break()

    def _break(self) -> None:
        self._broken = True
        self._cycle.broken = True
        self._count = 0

    @property
    def parties(self) -> int:
        return self._parties

    @property
    def n_waiting(self) -> int:
        return 0 if self._broken else self._count

    @property
    def broken(self) -> bool:
        return self._broken
