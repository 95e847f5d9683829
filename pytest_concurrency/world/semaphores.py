"""Controlled ``threading.Semaphore`` and ``threading.BoundedSemaphore``.

Any waiter may take a released unit (CPython does not promise which one is
woken either), so a waiting thread is enabled whenever the counter is positive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_concurrency._lockctx import AcquireReleaseContext
from pytest_concurrency.world.events import ACQUIRE, RELEASE, TRY, WAIT, WRITE
from pytest_concurrency.world.primitives import Primitive

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler


class Semaphore(AcquireReleaseContext, Primitive):
    """A counter that ``acquire`` decrements, waiting while it is zero."""

    __slots__ = ("_value",)

    KIND = "Semaphore"

    def __init__(self, sched: Scheduler, value: int = 1, name: str | None = None) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        super().__init__(sched, name)
        self._value = value

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        sched = self._sched
        me = sched.point("acquire", self)
        deadline = sched.deadline_after(timeout)
        while self._value == 0:
            if not blocking or (deadline is not None and deadline <= sched.now):
                sched.access(self, TRY)
                return False
            sched.access(self, WAIT)  # only waiting: the acquire happens when it wakes
            sched.block(me, self._available, deadline, "acquire", self)
        # a try that succeeded could have run before the release, and failed: a write
        sched.access(self, ACQUIRE if blocking else WRITE)
        self._value -= 1
        return True

    def release(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError("n must be one or more")
        self._sched.point("release", self)
        self._check_release(n)
        self._sched.access(self, RELEASE)
        self._value += n

    def _check_release(self, n: int) -> None:
        """Hook for BoundedSemaphore."""

    def _available(self) -> bool:
        return self._value > 0

    def label(self) -> str:
        return f"{super().label()} (value {self._value})"


class BoundedSemaphore(Semaphore):
    """A semaphore that refuses to be released above its initial value."""

    __slots__ = ("_initial",)

    KIND = "BoundedSemaphore"

    def __init__(self, sched: Scheduler, value: int = 1, name: str | None = None) -> None:
        super().__init__(sched, value, name)
        self._initial = value

    def _check_release(self, n: int) -> None:
        if self._value + n > self._initial:
            raise ValueError("Semaphore released too many times")
