"""A keyed pool of warm workers whose claim hands back a worker already held.

A probe-worker pool went from one warm worker per home to two, and its review
found the bugs this module is built to exclude:

- **Select-then-release.** The pool picked a worker by acquiring its lock,
  released the lock, and returned the worker; the caller re-acquired it later.
  Two callers could both pick the same worker and the loser fell back to a cold
  spawn -- the very cost the pool existed to avoid. Here :meth:`WorkerPool.claim`
  marks the worker busy under the pool lock and returns it *held*; the caller
  gives it back with :meth:`~WorkerPool.release` (or uses
  :meth:`~WorkerPool.borrow`, which always releases).
- **Invalidation racing a claim.** Invalidation popped workers while a caller
  was between lookup and claim. Here claims and invalidation change the pool
  under one lock, so a claim never returns a removed worker; a removed worker
  that is busy is closed when it is released, never under its user.
- **"Closed" and "not started" were both ``proc is None``**, so cleanup either
  reaped fresh replacements or kept closed workers. Here a worker reports an
  explicit state, one of four (see :class:`Worker`): cleanup reaps ``CLOSED``,
  ``DEAD`` and idle ``RUNNING`` workers, keeps ``NEW`` ones, and tops each key
  back up to ``per_key``.
- **Scoped invalidation**: ``invalidate(key)`` touches that key's workers only.

Design choices: one condition guards the whole pool (claims for any key wait
on it and ``release`` wakes them all, so a wake-up meant for one key is never
swallowed by a claimer for another); ``factory`` and ``Worker.state`` are
called under that lock and must therefore be quick and must not call back into
the pool; ``Worker.close`` (which may block on a process) is always called
after the lock is released, and its failures are logged, not raised.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from ._clock import Clock, resolve_clock
from ._validation import require_callable, require_hashable, require_positive_int, require_seconds

logger = logging.getLogger(__name__)


class WorkerState(enum.Enum):
    """What a pooled worker reports about itself: a member, or its value (the plain name)."""

    NEW = "new"  #: created, never started: cheap to keep, never reaped
    RUNNING = "running"  #: started and alive
    CLOSED = "closed"  #: shut down by ``close()``
    DEAD = "dead"  #: stopped on its own (its process exited, it crashed)


class Worker(Protocol):
    """A poolable worker: it reports its state and can be closed (idempotently).

    All the pool asks a worker is whether it was started, closed, or died on
    its own: ``state`` is a :class:`WorkerState`, or its value -- the string
    ``"new"``, ``"running"``, ``"closed"`` or ``"dead"`` -- so that a worker
    written without importing this module (a test double, a contract's fake
    worker) needs nothing but those four names. "Not started" and "closed" are
    two different answers: a worker must never encode both the same way (as a
    missing process, say).
    """

    @property
    def state(self) -> WorkerState | str: ...

    def close(self) -> None: ...


def state_of(worker: Worker) -> WorkerState:
    """``worker.state`` as a :class:`WorkerState` (a member, or one of the four names)."""
    reported = worker.state
    try:
        return WorkerState(reported)
    except ValueError:
        names = ", ".join(repr(state.value) for state in WorkerState)
        raise ValueError(
            f"worker {worker!r} reported state {reported!r}; a worker's state must be a "
            f"WorkerState or one of {names}"
        ) from None


K = TypeVar("K", bound=Hashable)
W = TypeVar("W", bound=Worker)

_STALE_STATES = frozenset({WorkerState.CLOSED, WorkerState.DEAD})


class _Slot(Generic[W]):
    """A worker's place in the pool."""

    __slots__ = ("busy", "last_used", "removed", "worker")

    def __init__(self, worker: W, now: float) -> None:
        self.worker = worker
        self.busy = False
        self.last_used = now
        self.removed = False


class WorkerPool(Generic[K, W]):
    """Up to ``per_key`` workers per key, each claimed by one caller at a time.

    Lock order: the pool's condition, then (inside it) ``factory`` and each
    worker's ``state``; ``Worker.close`` is called with no pool lock held.

    Invariants: a worker is held by at most one caller; every worker handed out
    by ``claim`` is in the pool and not ``CLOSED`` or ``DEAD`` at that moment;
    a worker removed by ``invalidate`` or ``cleanup`` is never handed out again
    and is closed exactly once (at once if idle, at ``release`` if busy); each
    key that has been claimed holds ``per_key`` workers after ``cleanup``.
    """

    def __init__(
        self,
        factory: Callable[[K], W],
        per_key: int = 2,
        wait: float = 0.05,
        *,
        clock: Clock | None = None,
    ) -> None:
        require_callable("factory", factory)
        self._factory = factory
        self._per_key = require_positive_int("per_key", per_key)
        self._wait = require_seconds("wait", wait)
        self._clock = resolve_clock(clock)
        self._cond = threading.Condition()
        self._slots: dict[K, list[_Slot[W]]] = {}
        self._slot_of: dict[int, _Slot[W]] = {}  # id(worker) -> slot, while pooled or busy

    def claim(self, key: K) -> W | None:
        """Return an idle worker for ``key``, held for the caller; None if all stay busy.

        Waits at most ``wait`` seconds for a worker to be released.
        """
        require_hashable("key", key)
        reaped: list[W] = []
        try:
            with self._cond:
                deadline = self._clock() + self._wait
                while True:
                    reaped += self._reap_locked(key, idle_seconds=None)
                    self._replenish_locked(key)
                    for slot in self._slots[key]:
                        if not slot.busy:
                            slot.busy = True
                            return slot.worker
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
        finally:
            _close_all(reaped)

    def release(self, worker: W) -> None:
        """Give back a claimed worker; a worker removed meanwhile is closed now."""
        with self._cond:
            slot = self._slot_of.get(id(worker))
            if slot is None or slot.worker is not worker or not slot.busy:
                raise ValueError(f"worker {worker!r} is not claimed from this pool")
            slot.busy = False
            slot.last_used = self._clock()
            if slot.removed:
                del self._slot_of[id(worker)]
            else:
                self._cond.notify_all()
        if slot.removed:
            _close_all([worker])

    @contextlib.contextmanager
    def borrow(self, key: K) -> Iterator[W | None]:
        """Claim a worker for the ``with`` body (None if none was free); always release it."""
        worker = self.claim(key)
        try:
            yield worker
        finally:
            if worker is not None:
                self.release(worker)

    def invalidate(self, key: K | None = None) -> None:
        """Remove and close ``key``'s workers (every key's when ``None``); busy ones on release."""
        removed: list[W] = []
        with self._cond:
            if key is None:
                keys: Iterable[K] = list(self._slots)
            else:
                require_hashable("key", key)
                keys = [key]
            for k in keys:
                for slot in self._slots.pop(k, []):
                    removed += self._remove_locked(slot)
        _close_all(removed)

    def cleanup(self, idle_seconds: float) -> None:
        """Reap closed, dead and idle running workers; keep new ones; refill each key."""
        limit = require_seconds("idle_seconds", idle_seconds, finite=False)
        reaped: list[W] = []
        try:
            with self._cond:
                for key in list(self._slots):
                    reaped += self._reap_locked(key, idle_seconds=limit)
                    self._replenish_locked(key)
        finally:
            _close_all(reaped)

    def workers(self, key: K) -> tuple[W, ...]:
        """The workers pooled for ``key`` right now, busy or not."""
        require_hashable("key", key)
        with self._cond:
            return tuple(slot.worker for slot in self._slots.get(key, ()))

    def _reap_locked(self, key: K, idle_seconds: float | None) -> list[W]:
        """Remove ``key``'s idle workers that are closed, dead or (if given) idle too long."""
        now = self._clock()
        kept: list[_Slot[W]] = []
        reaped: list[W] = []
        for slot in self._slots.get(key, ()):
            state = None if slot.busy else state_of(slot.worker)
            idle_too_long = (
                idle_seconds is not None
                and state is WorkerState.RUNNING
                and now - slot.last_used >= idle_seconds
            )
            if state in _STALE_STATES or idle_too_long:
                reaped += self._remove_locked(slot)
            else:
                kept.append(slot)
        self._slots[key] = kept
        return reaped

    def _replenish_locked(self, key: K) -> None:
        """Create workers until ``key`` has ``per_key`` of them."""
        slots = self._slots.setdefault(key, [])
        while len(slots) < self._per_key:
            worker = self._factory(key)
            if id(worker) in self._slot_of:
                raise ValueError(f"factory returned a worker already in the pool: {worker!r}")
            slot = _Slot(worker, self._clock())
            self._slot_of[id(worker)] = slot
            slots.append(slot)

    def _remove_locked(self, slot: _Slot[W]) -> list[W]:
        """Take ``slot`` out of service; return its worker if it can be closed now."""
        slot.removed = True
        if slot.busy:
            return []  # closed by release()
        del self._slot_of[id(slot.worker)]
        return [slot.worker]


def _close_all(workers: Iterable[Worker]) -> None:
    """Close each worker, logging (not raising) failures so one bad worker skips none."""
    for worker in workers:
        try:
            worker.close()
        except Exception:
            logger.exception("closing pooled worker %r failed", worker)
