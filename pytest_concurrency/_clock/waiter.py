"""A thread parked in a virtual wait, and how it was woken.

A :class:`Waiter` is what a waiting thread blocks on: a raw lock (the *gate*)
held from creation and released exactly once, when the wait is resolved -- by
the primitive's own notification (``notify``, ``set``, ``release``), by virtual
time passing its deadline, or by the clock being uninstalled. It doubles as a
``threading.Condition`` waiter: ``Condition.notify`` calls ``release()`` on the
objects in ``cond._waiters``, and ours never raises, which is what 3.10-3.12's
``notify`` (no ``RuntimeError`` tolerance) and 3.13's (gh-92530) both accept.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_concurrency import _realtime

if TYPE_CHECKING:
    from pytest_concurrency._clock.timeline import Timeline


class Outcome(enum.Enum):
    """Why a waiter stopped waiting."""

    NOTIFIED = "notified"  # the primitive woke it (notify, set, release, put)
    TIMED_OUT = "timed out"  # virtual time reached its deadline
    RELEASED = "released"  # the clock went away under an untimed wait: a spurious wake-up
    CANCELLED = "cancelled"  # it left on its own (the lock was free after all, I/O arrived)


@dataclass(frozen=True)
class PendingWait:
    """One thread parked in a timed virtual wait, as listed by ``FakeClock.pending``."""

    thread_name: str
    thread_ident: int
    deadline: float
    kind: str
    site: str


class Waiter:
    """One wait by one thread; resolved at most once, under the timeline's lock."""

    __slots__ = (
        "blocked",
        "deadline",
        "gate",
        "ident",
        "interruptible",
        "kind",
        "outcome",
        "resumed",
        "site",
        "thread_name",
        "timeline",
        "wake",
    )

    def __init__(
        self,
        timeline: Timeline,
        deadline: float | None,
        kind: str,
        site: str,
        ident: int,
        thread_name: str,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.timeline = timeline
        self.deadline = deadline
        self.kind = kind
        self.site = site
        self.ident = ident
        self.thread_name = thread_name
        #: extra wake-up for waiters not blocked on the gate (an asyncio selector)
        self.wake = wake
        #: an untimed wait the clock wakes (spuriously) when it is uninstalled
        self.interruptible = False
        #: for waits the gate cannot see the end of (a join, I/O): False once the
        #: thread is about to return on its own, so it no longer counts as idle
        self.blocked: Callable[[], bool] | None = None
        self.outcome: Outcome | None = None
        self.gate = _realtime.allocate_lock()
        self.gate.acquire()
        #: released when the thread leaves its park: ``advance()`` waits on it
        self.resumed = _realtime.allocate_lock()
        self.resumed.acquire()

    def release(self) -> None:
        """``Condition.notify`` entry point: wake the thread; a no-op when already woken."""
        self.timeline.resolve(self, Outcome.NOTIFIED)

    def notify(self) -> bool:
        """Wake the thread as notified; False when it had already been woken otherwise."""
        return self.timeline.resolve(self, Outcome.NOTIFIED)

    def record(self) -> PendingWait:
        assert self.deadline is not None
        return PendingWait(self.thread_name, self.ident, self.deadline, self.kind, self.site)

    def __repr__(self) -> str:
        state = self.outcome.value if self.outcome else "waiting"
        return f"<Waiter {self.kind} by {self.thread_name!r} until {self.deadline}: {state}>"


class RealWaiter:
    """A waiter for a wait in real time (no clock installed, or an out-of-scope thread).

    Lives in the same wait lists as :class:`Waiter`, so a primitive built
    under a clock keeps working after it is gone.
    """

    __slots__ = ("gate",)

    def __init__(self) -> None:
        self.gate = _realtime.allocate_lock()
        self.gate.acquire()

    def notify(self) -> bool:
        try:
            self.gate.release()
        except RuntimeError:  # woken already
            return False
        return True

    def release(self) -> None:
        self.notify()
