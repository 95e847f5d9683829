"""Virtual time and the threads parked on it.

The timeline owns the virtual ``monotonic`` value and a heap of deadlines.
Every virtual wait goes through :meth:`Timeline.park`:

* a thread other than the driver blocks on its waiter's gate until its
  primitive notifies it or virtual time passes its deadline -- event-driven,
  so ``advance()`` wakes it within microseconds;
* the driver (the test's thread) never blocks for good, because nobody else
  would move time for it: it waits in short real slices and, whenever every
  other in-scope thread is parked too, *autojumps* virtual time to the earliest
  deadline (its own included); as a last resort a timed driver wait ends after
  its timeout in real seconds.

Time only moves forward, in one place (:meth:`Timeline._advance_locked`),
under one lock, and every waiter is resolved exactly once under that lock, so
a notification and a timeout can never both win.
"""

from __future__ import annotations

import _thread
import heapq
import itertools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pytest_concurrency import _callsite, _realtime
from pytest_concurrency._clock.scope import Scope, thread_name
from pytest_concurrency._clock.waiter import Outcome, PendingWait, Waiter

#: the lock guarding the timeline must be re-entrant: ``SimpleQueue.put`` may run
#: from a garbage-collector callback while this thread already holds it
_RLock = _realtime.RLock

#: real-time slices of the driver's wait: short at first (autojumps are checked
#: between slices, and thread exits are only seen there), longer while nothing moves
_SLICE_MIN = 0.0005
_SLICE_MAX = 0.02

#: ``wait(timeout)`` protocol of a park: block up to ``timeout`` real seconds
#: (``None``: until woken) and say whether the wait is over
WaitFn = Callable[[float | None], bool]


def _slack(value: float) -> float:
    """Float noise allowed when comparing a deadline with the virtual time.

    ``advance(10)`` three times may land one ulp short of ``t0 + 30``; a sleeper
    computed its deadline as ``t0 + 30`` and must still wake. When it does, the
    clock is snapped *up* to its deadline, so the stdlib's "remaining = end -
    now" loops see exactly zero left instead of spinning on a few ulps.
    """
    return 4 * math.ulp(value)


#: the largest magnitude of seconds (an epoch, or time elapsed) whose nanosecond count is
#: still a finite float: no fake clock reading can go beyond it
MAX_SECONDS = sys.float_info.max / 1e9


@dataclass(frozen=True)
class WallRange:
    """The virtual wall times (``time()``, epoch seconds) a clock can show, and what limits them.

    Checked where time is given or moved (``start``, ``advance``), so that a
    reading never fails later, far from the call that caused it.
    """

    earliest: float = -MAX_SECONDS
    latest: float = MAX_SECONDS
    #: the range in words, for messages
    text: str = f"{-MAX_SECONDS:.3g} to {MAX_SECONDS:.3g} epoch seconds"
    #: why it ends there
    why: str = "the fake clock cannot count nanoseconds beyond that"

    def check_start(self, seconds: float, given: object) -> None:
        """Refuse a start time (epoch seconds) outside the range, naming ``start``."""
        if not self.earliest <= seconds <= self.latest:
            raise ValueError(f"start must be within {self.text} ({self.why}), got {given!r}")


@dataclass(frozen=True)
class Epoch:
    """The real readings the virtual clocks start from; all three move together.

    Nanosecond readings are computed from the integer starts plus the elapsed
    virtual time, so ``time_ns()`` keeps nanosecond precision that a float of
    1.7e18 could not hold.
    """

    monotonic_ns: int
    wall_ns: int
    perf_ns: int

    @property
    def monotonic(self) -> float:
        return self.monotonic_ns / 1e9

    def elapsed_ns(self, now: float) -> int:
        return round((now - self.monotonic) * 1e9)


class Timeline:
    """Virtual monotonic time, the deadline heap, parking, advancing and autojump."""

    def __init__(
        self, epoch: Epoch, *, resume_timeout: float, wall_range: WallRange | None = None
    ) -> None:
        self.epoch = epoch
        #: where time may move (see :meth:`check_move`)
        self.wall_range = wall_range if wall_range is not None else WallRange()
        self.now = epoch.monotonic
        self.resume_timeout = resume_timeout
        #: called (under the lock) with the new time whenever time moves: datetime follows
        self.on_advance: Callable[[float], None] | None = None
        self.scope: Scope | None = None
        self.active = False
        self._lock = _RLock()
        self._heap: list[tuple[float, int, Waiter]] = []
        self._seq = itertools.count()
        #: ident -> the waiter that thread is parked on (live ones only)
        self._parked: dict[int, Waiter] = {}
        #: raw locks of ``wait_for_sleepers`` callers, released when a thread parks
        self._watchers: list[_thread.LockType] = []

    # -- reading ----------------------------------------------------------------------

    def wall(self) -> float:
        epoch = self.epoch
        return epoch.wall_ns / 1e9 + (self.now - epoch.monotonic)

    def perf(self) -> float:
        epoch = self.epoch
        return epoch.perf_ns / 1e9 + (self.now - epoch.monotonic)

    def monotonic_ns(self) -> int:
        return self.epoch.monotonic_ns + self.epoch.elapsed_ns(self.now)

    def wall_ns(self) -> int:
        return self.epoch.wall_ns + self.epoch.elapsed_ns(self.now)

    def perf_ns(self) -> int:
        return self.epoch.perf_ns + self.epoch.elapsed_ns(self.now)

    # -- the Clock protocol (pytest_concurrency._time.clock) -----------------------------

    def current_time(self) -> float:
        return self.now

    def wall_time(self) -> float:
        return self.wall()

    def perf_time(self) -> float:
        return self.perf()

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Virtual seconds left until ``deadline``: a non-driver waits for real at most that."""
        return max(0.0, deadline - self.now)

    # -- installation -----------------------------------------------------------------

    def activate(self, scope: Scope) -> None:
        with self._lock:
            self.scope = scope
            self.active = True

    def deactivate(self) -> None:
        """Stop being virtual: time out every timed waiter, wake the interruptible untimed ones.

        Untimed waits on a primitive (``Condition.wait()``, ``lock.acquire()``)
        keep waiting for that primitive's notification, now as plain waits.
        """
        with self._lock:
            self.active = False
            for waiter in list(self._parked.values()):
                if waiter.deadline is not None:
                    self._resolve_locked(waiter, Outcome.TIMED_OUT)
                elif waiter.interruptible:
                    self._resolve_locked(waiter, Outcome.RELEASED)
            self._parked.clear()
            if self.scope is not None:
                self.scope.threads.clear()
            self._signal_watchers()

    def thread_starting(self) -> None:
        """An in-scope ``Thread.start`` began: no autojump until it is tracked."""
        with self._lock:
            if self.scope is not None:
                self.scope.starting += 1

    def thread_started(self, thread: object, started: bool) -> None:
        with self._lock:
            if self.scope is not None:
                if started:
                    self.scope.threads.add(thread)  # type: ignore[arg-type]
                self.scope.starting -= 1

    # -- waiting ----------------------------------------------------------------------

    def prepare(
        self,
        kind: str,
        timeout: float | None,
        *,
        wake: Callable[[], None] | None = None,
        interruptible: bool = False,
        blocked: Callable[[], bool] | None = None,
    ) -> Waiter:
        """A waiter for the calling thread, deadline ``now + timeout`` (virtual).

        Not parked yet: it can already be notified (a primitive appends it to its
        wait list *before* re-checking its condition, so no wake-up is lost), but
        it does not count as idle for autojump until :meth:`park`. An
        ``interruptible`` untimed wait (a selector, a join) is woken when the
        clock is uninstalled; other untimed waits go on waiting for their
        primitive. ``blocked`` tells autojump whether a wait that no gate
        ends (a join, a selector) is still blocked.
        """
        if timeout is not None and timeout != timeout:
            raise ValueError("timeout must be a number of seconds, not NaN")
        ident = _realtime.get_ident()
        # an infinite timeout is no deadline: never a target for autojump
        deadline = None if timeout is None or timeout == math.inf else self.now + timeout
        waiter = Waiter(
            self, deadline, kind, _callsite.call_site(1), ident, thread_name(ident), wake
        )
        waiter.interruptible = interruptible
        waiter.blocked = blocked
        return waiter

    def park(
        self,
        waiter: Waiter,
        wait: WaitFn | None = None,
        *,
        polled: bool = False,
        real_budget: float | None = None,
    ) -> Outcome | None:
        """Block the calling thread until ``waiter`` is resolved or ``wait`` says it is over.

        ``wait`` defaults to blocking on the waiter's gate. ``polled`` waits
        (``Thread.join``) cannot be interrupted by the gate and are re-checked in
        short real slices. ``real_budget`` bounds a *driver* wait in real
        seconds. Returns the waiter's outcome (``CANCELLED`` when ``wait`` ended
        it: I/O arrived, the joined thread ended).
        """
        wait_fn = wait if wait is not None else _gate_wait(waiter)
        is_driver = False
        with self._lock:
            if waiter.outcome is None:
                if not self.active:
                    if waiter.deadline is not None:
                        self._resolve_locked(waiter, Outcome.TIMED_OUT)
                elif waiter.deadline is not None and waiter.deadline <= self.now + _slack(self.now):
                    self._advance_locked(waiter.deadline)
                    self._resolve_locked(waiter, Outcome.TIMED_OUT)
                else:
                    if waiter.deadline is not None:
                        self._push_locked(waiter)
                    self._parked[waiter.ident] = waiter
                    self._signal_watchers()
                    assert self.scope is not None
                    is_driver = waiter.ident == self.scope.driver_ident
                    self._autojump_locked()
        try:
            if waiter.outcome is not None and wait is None:
                pass  # resolved already; the gate is open, nothing to block on
            elif is_driver:
                self._block_driver(waiter, wait_fn, real_budget)
            elif polled:
                _block_polled(waiter, wait_fn)
            else:
                wait_fn(None)
        finally:
            self._leave(waiter)
        return waiter.outcome

    def cancel(self, waiter: Waiter) -> None:
        """Retire a prepared waiter that never had to park (its condition already held)."""
        with self._lock:
            if waiter.outcome is None:
                waiter.outcome = Outcome.CANCELLED

    def resolve(self, waiter: Waiter, outcome: Outcome) -> bool:
        """Wake ``waiter`` with ``outcome``; False when it was already resolved."""
        with self._lock:
            return self._resolve_locked(waiter, outcome)

    def _block_driver(self, waiter: Waiter, wait_fn: WaitFn, real_budget: float | None) -> None:
        started = _realtime.monotonic()
        slice_ = _SLICE_MIN
        while not wait_fn(slice_) and waiter.outcome is None:
            with self._lock:
                self._autojump_locked()
                if (
                    waiter.outcome is None
                    and real_budget is not None
                    and waiter.deadline is not None
                    and _realtime.monotonic() - started >= real_budget
                ):
                    # last resort: the others never all parked; end the wait on
                    # schedule in real seconds and let virtual time agree with it
                    self._advance_locked(waiter.deadline)
            slice_ = min(slice_ * 2, _SLICE_MAX)

    def _leave(self, waiter: Waiter) -> None:
        with self._lock:
            if waiter.outcome is None:
                waiter.outcome = Outcome.CANCELLED
            if self._parked.get(waiter.ident) is waiter:
                del self._parked[waiter.ident]
        waiter.resumed.release()

    def _resolve_locked(self, waiter: Waiter, outcome: Outcome) -> bool:
        if waiter.outcome is not None:
            return False
        waiter.outcome = outcome
        if self._parked.get(waiter.ident) is waiter:
            del self._parked[waiter.ident]
        waiter.gate.release()
        if waiter.wake is not None:
            waiter.wake()
        return True

    # -- moving time ------------------------------------------------------------------

    def advance_to(self, target: float, *, wait_resumed: bool) -> float:
        """Move time to ``target`` (never back), wake the due; optionally await their resumption."""
        with self._lock:
            woken = self._advance_locked(target)
            now = self.now
        if wait_resumed and woken:
            self._await_resumed(woken)
        return now

    def advance_by(self, seconds: float, *, wait_resumed: bool) -> float:
        """Move time forward by ``seconds`` (a finite number >= 0), within :attr:`wall_range`."""
        with self._lock:
            target = self.now + seconds
            self.check_move(target, "seconds", seconds)
        return self.advance_to(target, wait_resumed=wait_resumed)

    def check_move(self, target: float, name: str, given: float) -> None:
        """Refuse moving monotonic time to ``target`` if a reading could not follow it there.

        ``name=given`` is the argument that asked for the move, for the message.
        Nothing changes when the move is refused.
        """
        epoch = self.epoch
        elapsed = target - epoch.monotonic
        wall = epoch.wall_ns / 1e9 + elapsed
        allowed = self.wall_range
        if abs(elapsed) <= MAX_SECONDS and wall <= allowed.latest:
            return
        left = allowed.latest - self.wall()
        raise ValueError(
            f"{name}={given!r} would move the fake clock's time() past the end of its range, "
            f"{allowed.text} ({allowed.why}): it can move {left:.6g} seconds more at most, "
            f"to monotonic() {self.now + left:.6g}"
        )

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` in scope: the driver moves time, any other thread parks on it."""
        assert self.scope is not None
        if _realtime.get_ident() == self.scope.driver_ident:
            self.advance_by(seconds, wait_resumed=True)
        else:
            self.park(self.prepare("time.sleep", seconds))

    def earliest(self) -> float | None:
        """The earliest deadline any thread is parked on, or None."""
        with self._lock:
            return self._earliest_locked()

    def _advance_locked(self, target: float) -> list[Waiter]:
        now = max(self.now, target)
        heap = self._heap
        due: list[Waiter] = []
        while heap:
            deadline, _, waiter = heap[0]
            if waiter.outcome is not None:
                heapq.heappop(heap)
                continue
            if deadline > now + _slack(now):
                break
            heapq.heappop(heap)
            due.append(waiter)
            now = max(now, deadline)
        if now != self.now:
            self.now = now
            if self.on_advance is not None:
                self.on_advance(now)
        for waiter in due:
            self._resolve_locked(waiter, Outcome.TIMED_OUT)
        return due

    def _push_locked(self, waiter: Waiter) -> None:
        heap = self._heap
        if len(heap) > 2 * len(self._parked) + 256:
            # waiters notified before their deadline leave dead entries behind
            # (lazy deletion); drop them before they pile up in a long test
            heap[:] = [entry for entry in heap if entry[2].outcome is None]
            heapq.heapify(heap)
        assert waiter.deadline is not None
        heapq.heappush(heap, (waiter.deadline, next(self._seq), waiter))

    def _earliest_locked(self) -> float | None:
        heap = self._heap
        while heap and heap[0][2].outcome is not None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _autojump_locked(self) -> None:
        if self.active and self._quiescent_locked():
            target = self._earliest_locked()
            if target is not None:
                self._advance_locked(target)

    def _quiescent_locked(self) -> bool:
        """True when the driver and every live in-scope thread are parked.

        Two passes, in this order: first every tracked thread must be dead or
        parked; only then are the ``blocked()`` checks of the parked asked (is
        the joined thread still alive, is the selector still without I/O). No
        in-scope thread can act in between: a parked one needs this lock to
        leave its park, and a dead one has done all it will do -- so a thread
        that wrote to an event loop's self-pipe and exited is seen as the I/O it
        left, never as a dead thread next to an idle loop.
        """
        scope = self.scope
        parked = self._parked
        if scope is None or scope.starting:
            return False
        driver = parked.get(scope.driver_ident)
        if driver is None:
            return False
        waiters = [driver]
        for thread in list(scope.threads):
            if not thread.is_alive():
                scope.threads.discard(thread)
                continue
            waiter = parked.get(thread.ident)  # type: ignore[arg-type]
            if waiter is None:
                return False
            waiters.append(waiter)
        return all(waiter.blocked is None or waiter.blocked() for waiter in waiters)

    def _await_resumed(self, woken: list[Waiter]) -> None:
        me = _realtime.get_ident()
        limit = _realtime.monotonic() + self.resume_timeout
        stuck = []
        for waiter in woken:
            if waiter.ident == me:
                continue
            if waiter.resumed.acquire(True, max(0.0, limit - _realtime.monotonic())):
                waiter.resumed.release()
            else:
                stuck.append(waiter)
        if stuck:
            names = ", ".join(f"{w.thread_name!r} ({w.kind} at {w.site})" for w in stuck)
            raise RuntimeError(
                f"fake clock: {len(stuck)} thread(s) woken by advance() did not resume within "
                f"{self.resume_timeout} s of real time: {names}"
            )

    # -- observing --------------------------------------------------------------------

    def pending(self) -> list[PendingWait]:
        with self._lock:
            records = [w.record() for w in self._parked.values() if w.deadline is not None]
        return sorted(records, key=lambda r: (r.deadline, r.thread_ident))

    def wait_for_sleepers(self, count: int, timeout: float) -> bool:
        """Wait (real time, bounded) until ``count`` other threads are parked on deadlines."""
        me = _realtime.get_ident()
        limit = _realtime.monotonic() + timeout
        watcher = _realtime.allocate_lock()
        watcher.acquire()
        with self._lock:
            self._watchers.append(watcher)
        try:
            while True:
                with self._lock:
                    sleepers = sum(
                        1 for w in self._parked.values() if w.deadline is not None and w.ident != me
                    )
                if sleepers >= count:
                    return True
                remaining = limit - _realtime.monotonic()
                if remaining <= 0:
                    return False
                watcher.acquire(True, remaining)
        finally:
            with self._lock:
                self._watchers.remove(watcher)

    def _signal_watchers(self) -> None:
        for watcher in self._watchers:
            if watcher.locked():
                watcher.release()


def _gate_wait(waiter: Waiter) -> WaitFn:
    gate = waiter.gate

    def wait(timeout: float | None) -> bool:
        return gate.acquire(True, -1 if timeout is None else timeout)

    return wait


def _block_polled(waiter: Waiter, wait_fn: WaitFn) -> None:
    slice_ = _SLICE_MIN
    while not wait_fn(slice_) and waiter.outcome is None:
        slice_ = min(slice_ * 2, _SLICE_MAX)
