"""Controlled ``threading.Lock`` and ``threading.RLock``.

``acquire`` is a scheduling point and then, while another thread owns the lock,
blocks until it is free (or the virtual timeout passes); ``release`` is a
scheduling point. Ownership is tracked exactly, which also gives the deadlock
report its wait-for graph. Unlike the C lock, waiting on a :class:`Condition`
over a plain Lock held by *another* thread is an error here, not silent chaos.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_concurrency._lockctx import AcquireReleaseContext
from pytest_concurrency.world.events import ACQUIRE, READ, RELEASE, TRY, WAIT, WRITE
from pytest_concurrency.world.primitives import Primitive, lock_timeout

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler, ThreadRecord


class _OwnedLock(AcquireReleaseContext, Primitive):
    """What Lock and RLock share: an owner, waiting for it to go, the Condition protocol."""

    __slots__ = ("_owner",)

    def __init__(self, sched: Scheduler, name: str | None = None) -> None:
        super().__init__(sched, name)
        self._owner: ThreadRecord | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def _wait_free(self, me: ThreadRecord, blocking: bool, timeout: float | None) -> bool:
        """Block until nobody owns the lock; False if not blocking or timed out."""
        sched = self._sched
        deadline = sched.deadline_after(timeout)
        while self._owner is not None:
            if not blocking or (deadline is not None and deadline <= sched.now):
                sched.access(self, TRY)
                return False
            sched.access(self, WAIT)  # only waiting: the acquire happens when it wakes
            sched.block(me, self._is_free, deadline, "acquire", self)
        # a try that succeeded could have run before the release, and failed: a write
        sched.access(self, ACQUIRE if blocking else WRITE)
        return True

    def _is_free(self) -> bool:
        return self._owner is None

    def holder(self) -> ThreadRecord | None:
        return self._owner

    # -- the protocol Condition uses (no scheduling points of their own) ----------------------

    def _is_owned(self, me: ThreadRecord) -> bool:
        return self._owner is me

    def _release_save(self, me: ThreadRecord) -> int:
        # a wait releases the lock: what the waiter did before it happens before the next
        # owner's acquire, as with release()
        self._sched.access(self, RELEASE)
        self._owner = None
        return 1

    def _acquire_restore(self, me: ThreadRecord, state: int) -> None:
        self._wait_free(me, True, None)
        self._owner = me


class Lock(_OwnedLock):
    """A mutex that any thread may release, like ``_thread.lock``."""

    __slots__ = ()

    KIND = "Lock"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        wait = lock_timeout(blocking, timeout)
        me = self._sched.point("acquire", self)
        if not self._wait_free(me, blocking, wait):
            return False
        self._owner = me
        return True

    def release(self) -> None:
        self._sched.point("release", self)
        if self._owner is None:
            raise RuntimeError("release unlocked lock")
        self._sched.access(self, RELEASE)
        self._owner = None

    def locked(self) -> bool:
        self._sched.point("locked", self)
        self._sched.access(self, READ)
        return self._owner is not None


class RLock(_OwnedLock):
    """A reentrant lock: only its owner may release it, once per acquire."""

    __slots__ = ("_count",)

    KIND = "RLock"

    def __init__(self, sched: Scheduler, name: str | None = None) -> None:
        super().__init__(sched, name)
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        wait = lock_timeout(blocking, timeout)
        me = self._sched.point("acquire", self)
        if self._owner is me:
            self._sched.access(self, None)  # re-entering: nobody else can tell
            self._count += 1
            return True
        if not self._wait_free(me, blocking, wait):
            return False
        self._owner = me
        self._count = 1
        return True

    def release(self) -> None:
        me = self._sched.point("release", self)
        if self._owner is not me:
            raise RuntimeError("cannot release un-acquired lock")
        self._sched.access(self, RELEASE)
        self._count -= 1
        if self._count == 0:
            self._owner = None

    def _release_save(self, me: ThreadRecord) -> int:
        self._sched.access(self, RELEASE)  # as in Lock._release_save
        count = self._count
        self._owner = None
        self._count = 0
        return count

    def _acquire_restore(self, me: ThreadRecord, state: int) -> None:
        super()._acquire_restore(me, state)
        self._count = state
