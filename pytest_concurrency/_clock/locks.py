"""Locks whose timed ``acquire`` waits on virtual time.

``threading.Lock`` and ``RLock`` are C types: their ``acquire(timeout=...)``
blocks in C where no patch can reach. While a clock is installed,
``threading.Lock()`` and ``threading.RLock()`` called from an in-scope thread
build these thin wrappers instead (``Event``, ``Semaphore``, ``Condition``,
``Queue`` created in scope therefore sit on them too). The wrapper keeps a
real lock for the state and a list of parked waiters; ``release()`` wakes one.
Locks created before installation, or by out-of-scope threads, stay real.

A wrapper outlives the clock that made it: with no clock installed (or from an
out-of-scope thread) it simply blocks on its real lock.
"""

from __future__ import annotations

import _thread
from collections import deque
from collections.abc import Callable
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency._clock import scoped
from pytest_concurrency._clock.waiter import Outcome, RealWaiter, Waiter
from pytest_concurrency._lockctx import AcquireReleaseContext
from pytest_concurrency._stdlib.args import lock_timeout

_RealLockType = _thread.LockType
_RealRLock = _realtime.RLock


class WaitList:
    """Waiters parked on one primitive; ``wake_one`` skips those already gone."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: deque[Waiter | RealWaiter] = deque()

    def add(self, waiter: Waiter | RealWaiter) -> None:
        self._waiters.append(waiter)

    def discard(self, waiter: Waiter | RealWaiter) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass

    def wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            try:
                waiter = waiters.popleft()
            except IndexError:
                return
            if waiter.notify():
                return


def clock_now() -> float:
    """The calling thread's monotonic reading: virtual in scope, real elsewhere."""
    timeline = scoped.current()
    return _realtime.monotonic() if timeline is None else timeline.now


def park_on(
    waitlist: WaitList, kind: str, timeout: float | None, ready: Callable[[], bool]
) -> bool:
    """Wait until notified through ``waitlist`` (True) or ``timeout`` passes (False).

    The waiter joins the list *before* ``ready()`` is checked, so a notification
    between the caller's own check and the park is never lost; True at once when
    ``ready()`` already holds. Virtual in scope, a real timed wait elsewhere.
    """
    timeline = scoped.current()
    if timeline is None:
        real_waiter = RealWaiter()
        waitlist.add(real_waiter)
        if ready():
            waitlist.discard(real_waiter)
            return True
        woken = real_waiter.gate.acquire(True, -1 if timeout is None else timeout)
        waitlist.discard(real_waiter)
        return woken
    waiter = timeline.prepare(kind, timeout)
    waitlist.add(waiter)
    if ready():
        timeline.cancel(waiter)
        waitlist.discard(waiter)
        return True
    outcome = timeline.park(waiter, real_budget=timeout)
    waitlist.discard(waiter)
    return outcome is Outcome.NOTIFIED


def _check_acquire_args(blocking: bool, timeout: float) -> None:
    lock_timeout(blocking, timeout)  # the C lock's own rules and messages


class VirtualLock(AcquireReleaseContext):
    """``threading.Lock`` with a virtual-time timed ``acquire``."""

    __slots__ = ("__weakref__", "_real", "_waiters")

    def __init__(self) -> None:
        self._real = _realtime.allocate_lock()
        self._waiters = WaitList()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        _check_acquire_args(blocking, timeout)
        real = self._real
        if real.acquire(False):
            return True
        if not blocking:
            return False
        if scoped.current() is None:
            return real.acquire(True, timeout)
        got = False

        def try_acquire() -> bool:
            nonlocal got
            got = real.acquire(False)
            return got

        end = None if timeout == -1 else clock_now() + timeout
        while True:
            remaining = None if end is None else end - clock_now()
            if remaining is not None and remaining <= 0:
                return real.acquire(False)
            park_on(self._waiters, "Lock.acquire", remaining, try_acquire)
            if got or real.acquire(False):
                return True

    def release(self) -> None:
        self._real.release()
        self._waiters.wake_one()

    def locked(self) -> bool:
        return self._real.locked()

    def _at_fork_reinit(self) -> None:
        self._real = _realtime.allocate_lock()
        self._waiters = WaitList()

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<{state} pytest_concurrency fake-clock Lock at {id(self):#x}>"


class VirtualRLock(AcquireReleaseContext):
    """``threading.RLock`` on a :class:`VirtualLock`: re-entrant, usable by ``Condition``."""

    __slots__ = ("__weakref__", "_block", "_count", "_owner")

    def __init__(self) -> None:
        self._block = VirtualLock()
        self._owner: int | None = None
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = _realtime.get_ident()
        if self._owner == me:
            _check_acquire_args(blocking, timeout)
            self._count += 1
            return True
        got = self._block.acquire(blocking, timeout)
        if got:
            self._owner = me
            self._count = 1
        return got

    def release(self) -> None:
        if self._owner != _realtime.get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if not self._count:
            self._owner = None
            self._block.release()

    def locked(self) -> bool:
        return self._block.locked()

    # the interface ``threading.Condition`` uses to wait with the lock released
    def _is_owned(self) -> bool:
        return self._owner == _realtime.get_ident()

    def _release_save(self) -> tuple[int, int | None]:
        if self._count == 0:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        self._block.release()
        return state

    def _acquire_restore(self, state: tuple[int, int | None]) -> None:
        self._block.acquire()
        self._count, self._owner = state

    def _recursion_count(self) -> int:
        return self._count if self._owner == _realtime.get_ident() else 0

    def _at_fork_reinit(self) -> None:
        self._block._at_fork_reinit()
        self._owner = None
        self._count = 0

    def __repr__(self) -> str:
        return (
            f"<{'locked' if self.locked() else 'unlocked'} pytest_concurrency fake-clock RLock "
            f"owner={self._owner} count={self._count} at {id(self):#x}>"
        )


class _LockFactoryMeta(type):
    """``isinstance(x, threading.Lock)`` (a class on 3.13) keeps working while patched."""

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, (_RealLockType, VirtualLock))


class LockFactory(metaclass=_LockFactoryMeta):
    """Installed as ``threading.Lock``: a virtual lock in scope, a real one elsewhere."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if scoped.current() is not None:
            return VirtualLock(*args, **kwargs)
        return _realtime.allocate_lock(*args, **kwargs)


def rlock_factory(*args: Any, **kwargs: Any) -> Any:
    """Installed as ``threading.RLock``: a virtual re-entrant lock in scope, else the C one."""
    if scoped.current() is not None:
        return VirtualRLock(*args, **kwargs)
    return _RealRLock(*args, **kwargs)
