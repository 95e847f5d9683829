"""Helpers for the reference_impl tests: bounded threads, observed waits, manual time.

Nothing here sleeps to "let things happen". A test that needs to know a thread
is blocked inside a guard observes it: the guards create their events and
conditions through ``threading.Event()`` / ``threading.Condition()`` looked up
at call time, so a test can swap in subclasses that report when a subject
thread starts waiting (:class:`WaitObserver`). Time-dependent behaviour runs on
:class:`ManualTime`, a clock the test advances by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: every bounded wait in these tests; generous because the machine is shared
TIMEOUT = 5.0
#: subject threads carry this name prefix; only their waits are observed
SUBJECT_PREFIX = "subject-"

_RealCondition = threading.Condition
_RealEvent = threading.Event


class Spawned:
    """A subject thread whose return value or exception is collected."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.value = fn(*args)
        except BaseException as exc:  # collected for the test to inspect
            self.error = exc

    def join(self) -> None:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), f"{self.thread.name} still running after {TIMEOUT}s"

    def result(self) -> Any:
        """Join (bounded) and return the value, re-raising the thread's exception."""
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


class WaitObserver:
    """Counts subject threads currently blocked in an observed ``wait``."""

    def __init__(self) -> None:
        self._cond = _RealCondition()
        self.waiting = 0

    def _enter(self) -> bool:
        if not threading.current_thread().name.startswith(SUBJECT_PREFIX):
            return False
        with self._cond:
            self.waiting += 1
            self._cond.notify_all()
        return True

    def _leave(self) -> None:
        with self._cond:
            self.waiting -= 1
            self._cond.notify_all()

    def wait_for_waiters(self, count: int) -> None:
        """Block until at least ``count`` subject threads are waiting (bounded)."""
        with self._cond:
            assert self._cond.wait_for(lambda: self.waiting >= count, TIMEOUT), (
                f"only {self.waiting} of {count} threads reached a wait"
            )

    def event_class(self) -> type[threading.Event]:
        observer = self

        class ObservedEvent(_RealEvent):
            def wait(self, timeout: float | None = None) -> bool:
                counted = observer._enter()
                try:
                    return super().wait(timeout)
                finally:
                    if counted:
                        observer._leave()

        return ObservedEvent

    def condition_class(self) -> type[threading.Condition]:
        observer = self

        class ObservedCondition(_RealCondition):
            def wait(self, timeout: float | None = None) -> bool:
                counted = observer._enter()
                try:
                    return super().wait(timeout)
                finally:
                    if counted:
                        observer._leave()

        return ObservedCondition


class ManualTime:
    """A clock that moves only when the test says so, and conditions that hear it move.

    ``condition()`` is a condition factory for guards that wait: its conditions
    are notified on every ``advance`` so a waiter re-reads the clock, and they
    record each wait's timeout so a test can wait until a guard is parked with a
    given remaining time.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._conditions: list[threading.Condition] = []
        self._seen = _RealCondition()
        self.waits: list[float | None] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for cond in self._conditions:
            with cond:
                cond.notify_all()

    def condition(self) -> threading.Condition:
        manual = self

        class RecordingCondition(_RealCondition):
            def wait(self, timeout: float | None = None) -> bool:
                with manual._seen:
                    manual.waits.append(timeout)
                    manual._seen.notify_all()
                return super().wait(timeout)

        cond = RecordingCondition()
        self._conditions.append(cond)
        return cond

    def wait_for_wait(self, predicate: Callable[[float | None], bool]) -> None:
        """Block until some recorded wait's timeout satisfies ``predicate`` (bounded)."""
        with self._seen:
            assert self._seen.wait_for(lambda: any(map(predicate, self.waits)), TIMEOUT), (
                f"no matching wait; waits so far: {self.waits}"
            )
