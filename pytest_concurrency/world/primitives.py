"""What every controlled primitive shares: its run, a readable name, argument checks.

The primitives themselves are split by family: :mod:`.locks` (Lock, RLock),
:mod:`.conditions` (Condition, Event, Barrier), :mod:`.semaphores`,
:mod:`.queues` (SimpleQueue), :mod:`.threads` (Thread, spawn) and
:mod:`.clock` (sleep and the time functions). They are plain state machines:
only the thread holding the baton ever touches them, so they need no locking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pytest_concurrency._stdlib.args import lock_timeout

__all__ = ["Primitive", "lock_timeout"]

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler, ThreadRecord


class Primitive:
    """Base of the controlled primitives: belongs to one run, has a stable readable name.

    The name is ``Kind#n`` (the n-th of its kind created in the run, which is
    deterministic for a given schedule), or the attribute it replaced when
    swapped in by ``patch()``; during a traced replay it also records where the
    user code created it.
    """

    __slots__ = ("_name", "_sched", "_serial", "_site")

    KIND: ClassVar[str] = "Primitive"

    def __init__(self, sched: Scheduler, name: str | None = None) -> None:
        self._sched = sched
        self._name = name
        # named (patched-in) primitives take no number, so user-created ones count from #1
        self._serial = 0 if name is not None else sched.next_serial(self.KIND)
        tracer = sched.tracer
        self._site = tracer.site() if tracer is not None and name is None else ""

    def label(self) -> str:
        """``Lock#2 (created at app.py:10)`` or ``module._lock`` for a patched attribute."""
        base = self._name or f"{self.KIND}#{self._serial}"
        return f"{base} (created at {self._site})" if self._site else base

    def holder(self) -> ThreadRecord | None:
        """The thread that must act for a waiter to proceed (a lock's owner), if any."""
        return None

    def __repr__(self) -> str:
        return f"<controlled {self.label()}>"
