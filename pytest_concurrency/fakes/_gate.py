"""The gate: one place where callers of a fake wait until the test lets them through.

Every gated fake (:class:`GatedFake`, :class:`GatedEncoder`) owns a :class:`Gate`
and sends each call through :meth:`Gate.passage` (threads) or
:meth:`Gate.apassage` (coroutines). Sync and async callers share one queue and
one permit count, so a test can mix them freely.

Why not ``threading.Condition``: the fake clock and the controlled world swap
``threading``'s primitives while a test runs, and a gate must keep blocking on
*real* locks with *real* timeouts whatever is patched. So the gate is built on
raw locks from :mod:`pytest_concurrency._realtime` and the small
:class:`_RealCondition` below.

Inside an interleavings run the scheduler owns every wait: a caller blocked at
the gate is then a blocked thread the scheduler sees (it waits on the gate's
state, with no real lock), ``open()``/``release()`` are scheduling points that
make it runnable again, and ``wait_for_callers``/``wait_idle`` are controlled
waits on the run's virtual time. A gate nobody in the run opens is a deadlock
that names it, not a hang. Every other caller keeps the real-lock path.

Permits are handed over directly: ``release(n)`` gives each permit to the
longest-waiting caller, or banks it for the next to arrive. A woken caller
therefore never competes with newcomers, which is what makes ``release(n)``
exact and first-in first-out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency._checks import check_count, check_seconds
from pytest_concurrency._clock.scoped import run_clock
from pytest_concurrency.fakes._callers import BlockedCaller, capture_caller

_LockType = Any  # ``_thread.LockType``: not nameable in annotations on every version
_TIMEOUT_MAX = 24 * 3600.0  # below _thread.TIMEOUT_MAX everywhere


class _RealCondition:
    """A condition variable on a raw mutex: ``wait_for`` with a real-time bound, ``notify_all``.

    The same idea as ``threading.Condition`` (each waiter parks on a lock of its
    own that ``notify_all`` releases), reduced to what the gate needs. The caller
    holds ``mutex`` around both methods.
    """

    def __init__(self, mutex: _LockType) -> None:
        self._mutex = mutex
        self._sleepers: list[_LockType] = []

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds or ``timeout`` real seconds pass; return it."""
        deadline = _realtime.monotonic() + timeout
        while not predicate():
            remaining = deadline - _realtime.monotonic()
            if remaining <= 0:
                return False
            sleeper = _realtime.allocate_lock()
            sleeper.acquire()
            self._sleepers.append(sleeper)
            self._mutex.release()
            try:
                sleeper.acquire(True, min(remaining, _TIMEOUT_MAX))
            finally:
                self._mutex.acquire()
                if sleeper in self._sleepers:  # timed out: nobody released it
                    self._sleepers.remove(sleeper)
        return True

    def notify_all(self) -> None:
        """Wake every waiter; each re-checks its predicate."""
        for sleeper in self._sleepers:
            sleeper.release()
        self._sleepers.clear()


class _RunWait:
    """The gate as a run's scheduler sees it: what a blocked caller waits on."""

    __slots__ = ("_gate",)

    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    def label(self) -> str:
        return self._gate.label

    def holder(self) -> None:
        return None

    def deadlock_summary(self) -> str:
        gate = self._gate
        return (
            f"deadlock: {gate.blocked} caller(s) wait at {gate.label} ({gate.summary()}) and "
            "no thread of the scenario can open it any more; call .open() or .release(n) "
            "from a thread of the scenario"
        )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Waiter:
    """One caller parked at the gate (a thread, or a coroutine with its future)."""

    __slots__ = ("by_permit", "caller", "future", "granted", "loop")

    def __init__(
        self,
        caller: BlockedCaller,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.caller = caller
        self.loop = loop
        self.future = future
        self.granted = False
        self.by_permit = False


class Gate:
    """Holds callers until the test opens it or releases permits; thread- and loop-safe.

    Args:
        label: how messages name the owner, e.g. ``"GatedFake 'loader'"``.
        opened: start open (callers pass) instead of closed (callers wait).
        block_timeout: real seconds a caller may wait before it gives up with
            ``TimeoutError``, so a test that forgets to open the gate fails
            instead of hanging. For coroutines it is measured by the event
            loop's clock.
    """

    def __init__(self, label: str = "gate", *, opened: bool = False, block_timeout: float = 30.0):
        if not isinstance(opened, bool):
            raise TypeError(f"opened must be a bool, got {opened!r}")
        self.label = label
        self.block_timeout = check_seconds("block_timeout", block_timeout, allow_zero=False)
        self._mutex = _realtime.allocate_lock()
        self._changed = _RealCondition(self._mutex)
        self._open = opened
        self._permits = 0
        self._queue: deque[_Waiter] = deque()
        self._in_flight = 0
        self._max_in_flight = 0
        self._run_wait = _RunWait(self)

    # -- state ---------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while every caller goes straight through."""
        return self._open

    @property
    def permits(self) -> int:
        """Permits banked by :meth:`release` and not yet used by a caller."""
        return self._permits

    @property
    def blocked(self) -> int:
        """Callers waiting at the gate right now."""
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Callers that arrived and have not returned yet (waiting or running)."""
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most callers ever in flight at the same time."""
        return self._max_in_flight

    def __repr__(self) -> str:
        return f"<Gate {self.label}: {self.summary()}>"

    def summary(self) -> str:
        """One line of state, e.g. ``closed, 2 blocked, 2 in flight (max 3), 0 permits``."""
        with self._mutex:
            return (
                f"{'open' if self._open else 'closed'}, {len(self._queue)} blocked, "
                f"{self._in_flight} in flight (max {self._max_in_flight}), "
                f"{self._permits} permits"
            )

    # -- control (called by the test) ------------------------------------------

    def open(self) -> None:
        """Let every waiting caller through, and every later one until :meth:`close`."""
        self._point("open")
        with self._mutex:
            self._open_locked()

    def close(self) -> None:
        """Make later callers wait again. Banked permits are kept."""
        self._point("close")
        with self._mutex:
            self._open = False

    def release(self, n: int = 1) -> None:
        """Let exactly ``n`` callers through: those waiting first, then the next to arrive."""
        check_count("n", n)
        self._point("release")
        with self._mutex:
            for _ in range(n):
                self._hand_over_permit()
            self._changed.notify_all()

    def wait_for_callers(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` callers are in flight (inside or waiting) at once.

        Returns False if that did not happen within ``timeout`` real seconds.
        Blocks the calling thread: from a coroutine on the same loop as the
        callers, run it with ``await asyncio.to_thread(...)``.
        """
        check_count("n", n)
        seconds = check_seconds("timeout", timeout, allow_zero=True)
        if run_clock() is not None:
            return self._run_wait_for("wait_for_callers", lambda: self._in_flight >= n, seconds)
        with self._mutex:
            return self._changed.wait_for(lambda: self._in_flight >= n, seconds)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no caller is in flight; False if some still are after ``timeout`` s."""
        seconds = check_seconds("timeout", timeout, allow_zero=True)
        if run_clock() is not None:
            return self._run_wait_for("wait_idle", lambda: self._in_flight == 0, seconds)
        with self._mutex:
            return self._changed.wait_for(lambda: self._in_flight == 0, seconds)

    def open_for_teardown(self) -> list[BlockedCaller]:
        """Open the gate and return the callers it was holding (oldest first).

        One atomic step, so no caller slips between the report and the opening.
        """
        with self._mutex:
            held = [waiter.caller for waiter in self._queue]
            self._open_locked()
        return held

    # -- passage (called by the fakes) ----------------------------------------

    @contextmanager
    def passage(self) -> Iterator[None]:
        """Wait (in this thread) until the gate lets this caller through; leave on exit.

        Raises:
            TimeoutError: the caller waited ``block_timeout`` seconds in vain.
        """
        if run_clock() is not None:
            self._run_arrive()
            try:
                yield
            finally:
                self._leave()
            return
        with self._mutex:
            waiter = self._arrive(lambda: _Waiter(capture_caller()))
            if waiter is not None:
                try:
                    through = self._changed.wait_for(lambda: waiter.granted, self.block_timeout)
                except BaseException:
                    self._abandon(waiter)
                    raise
                if not through:
                    self._abandon(waiter)
                    raise TimeoutError(self._timeout_message())
        try:
            yield
        finally:
            self._leave()

    @asynccontextmanager
    async def apassage(self) -> AsyncIterator[None]:
        """Wait without blocking the event loop until this coroutine may pass; leave on exit.

        Raises:
            TimeoutError: the caller waited ``block_timeout`` seconds in vain.
        """
        loop = asyncio.get_running_loop()
        with self._mutex:
            waiter = self._arrive(
                lambda: _Waiter(capture_caller(), loop=loop, future=loop.create_future())
            )
        if waiter is not None and waiter.future is not None:
            try:
                await asyncio.wait_for(waiter.future, self.block_timeout)
            except asyncio.TimeoutError:
                with self._mutex:
                    if not waiter.granted:  # else let through just as time ran out
                        self._abandon(waiter)
                        raise TimeoutError(self._timeout_message()) from None
            except BaseException:  # cancelled, or the loop is shutting down
                with self._mutex:
                    self._abandon(waiter)
                raise
        try:
            yield
        finally:
            self._leave()

    # -- inside an interleavings run ------------------------------------------------

    def _point(self, op: str) -> None:
        """A scheduling point before a control operation, in a run; nothing outside one."""
        sched = run_clock()
        if sched is not None:
            sched.point(op, self._run_wait)

    def _run_arrive(self) -> None:
        """A run's caller arrives: a scheduling point, then a wait the scheduler sees.

        No deadline: in a run nothing but the scenario can open the gate, so a
        caller nobody lets through is a deadlock report naming the gate.
        """
        sched = run_clock()
        assert sched is not None
        me = sched.point("arrive at", self._run_wait)
        with self._mutex:
            waiter = self._arrive(lambda: _Waiter(capture_caller()))
        if waiter is None:
            return
        try:
            while not waiter.granted:
                sched.block(me, lambda: waiter.granted, None, "waits at", self._run_wait)
        except BaseException:
            with self._mutex:
                self._abandon(waiter)
            raise

    def _run_wait_for(self, op: str, predicate: Callable[[], bool], seconds: float) -> bool:
        """A controlled wait until ``predicate()``, bounded by ``seconds`` of virtual time."""
        sched = run_clock()
        assert sched is not None
        me = sched.point(op, self._run_wait)
        deadline = sched.now + seconds
        while not predicate():
            if deadline <= sched.now:
                return False
            sched.block(me, predicate, deadline, op, self._run_wait)
        return True

    # -- internals (all called with the mutex held) ----------------------------

    def _arrive(self, make_waiter: Callable[[], _Waiter]) -> _Waiter | None:
        """Count the caller in; return its waiter if it must wait, None if it may pass."""
        self._in_flight += 1
        self._max_in_flight = max(self._max_in_flight, self._in_flight)
        waiter = None
        if self._open:
            pass
        elif self._permits:
            self._permits -= 1
        else:
            waiter = make_waiter()
            self._queue.append(waiter)
        self._changed.notify_all()
        return waiter

    def _open_locked(self) -> None:
        self._open = True
        while self._queue:
            self._grant(self._queue.popleft(), by_permit=False)
        self._changed.notify_all()

    def _grant(self, waiter: _Waiter, *, by_permit: bool) -> None:
        waiter.granted = True
        waiter.by_permit = by_permit
        if waiter.loop is not None and waiter.future is not None:
            try:
                waiter.loop.call_soon_threadsafe(_resolve, waiter.future)
            except RuntimeError:  # its loop is closed: the coroutine is gone
                pass

    def _hand_over_permit(self) -> None:
        if self._queue:
            self._grant(self._queue.popleft(), by_permit=True)
        else:
            self._permits += 1

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gives up (timeout, cancellation): pass on a permit it did not use."""
        if not waiter.granted:
            self._queue.remove(waiter)
        elif waiter.by_permit:
            self._hand_over_permit()
        self._in_flight -= 1
        self._changed.notify_all()

    def _leave(self) -> None:
        with self._mutex:
            self._in_flight -= 1
            self._changed.notify_all()

    def _timeout_message(self) -> str:
        return (
            f"{self.label}: a caller waited {self.block_timeout:g} s and the gate was never "
            "opened for it; call .open() or .release(n) in the test (or raise block_timeout)"
        )
