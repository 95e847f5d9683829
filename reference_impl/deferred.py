"""Deferred deletion with one janitor thread for any number of items.

The original deferred deleter removed every temporary blob by parking a pool
thread in ``time.sleep(480)``; at production volume ~90 of 128 storage threads
were asleep as ad-hoc timers and real work starved. The fix replaced them with
a due-time min-heap and one lazily started janitor thread. This module is that
fix, with the failure modes it has to survive spelled out:

- **Due order and early wake-up.** The heap is ordered by ``(due, seq)`` (the
  sequence number keeps equal due times first-in first-out and never compares
  items). The janitor waits on a condition with ``timeout = due - now`` and
  re-peeks the heap on *every* wake-up; ``schedule`` notifies it when the new
  item becomes the head, so an earlier item never waits behind a later one.
- **A failing delete is logged and skipped**: the janitor survives any
  ``Exception`` from ``delete`` (``logging.getLogger(__name__)``).
- **A janitor killed by a ``BaseException`` is restarted** by the next
  ``schedule`` -- or at once by the dying janitor itself when items are still
  pending, since an item scheduled while it was busy deleting would otherwise
  wait for a ``schedule`` that may never come. Whether a janitor runs is an
  explicit token, cleared in the janitor's ``finally`` -- not
  ``Thread.is_alive()``, which stays True while the
  dying thread unwinds (its ``finally`` blocks, ``threading.excepthook``), a
  window in which an ``is_alive`` check would refuse to restart it and strand
  every pending item.
- **No idle thread.** The janitor exits when the heap is empty and ``schedule``
  starts a new one on demand, so a quiet deleter holds no thread at all.
- **Time** is read through the injected ``clock`` (default ``time.monotonic``,
  looked up at call time); waits go through the condition, whose factory can
  be injected too, so tests and the explorer control both.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from ._clock import Clock, resolve_clock
from ._validation import require_callable, require_seconds

logger = logging.getLogger(__name__)

T = TypeVar("T")

_EXIT: Any = object()


class ConditionLike(Protocol):
    """The part of ``threading.Condition`` the janitor uses."""

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> object: ...

    def wait(self, timeout: float | None = None) -> bool: ...

    def notify(self, n: int = 1) -> None: ...

    def notify_all(self) -> None: ...


def _new_condition() -> ConditionLike:
    return threading.Condition()


class DeferredDeleter(Generic[T]):
    """Call ``delete(item)`` once each scheduled item is due, from one janitor thread.

    Lock order: one condition guards the heap, the janitor token and the closed
    flag; ``delete`` is always called with it released.

    Invariants: at most one janitor is inside its loop at any time (a dying or
    exiting one may still be unwinding); while items are pending and the deleter
    is open, a janitor is running or the next ``schedule`` starts one; items are
    handed to ``delete`` in due order, each at most once.
    """

    def __init__(
        self,
        delete: Callable[[T], object],
        *,
        clock: Clock | None = None,
        condition_factory: Callable[[], ConditionLike] | None = None,
        thread_name: str = "reference-impl-deferred-deleter",
    ) -> None:
        require_callable("delete", delete)
        if condition_factory is not None:
            require_callable("condition_factory", condition_factory)
        self._delete = delete
        self._clock = resolve_clock(clock)
        self._cond = (condition_factory or _new_condition)()
        self._thread_name = thread_name
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()
        self._janitor: object | None = None  # token of the janitor inside its loop
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Number of scheduled items not yet handed to ``delete``."""
        with self._cond:
            return len(self._heap)

    def schedule(self, item: T, delay: float) -> None:
        """Delete ``item`` once ``delay`` seconds have passed on the clock."""
        due = self._clock() + require_seconds("delay", delay)
        with self._cond:
            if self._closed:
                raise RuntimeError("schedule() called on a closed DeferredDeleter")
            seq = next(self._seq)
            heapq.heappush(self._heap, (due, seq, item))
            if self._janitor is None:
                self._start_janitor()
            elif self._heap[0][1] == seq:
                self._cond.notify()  # the new item is due first: re-peek now

    def close(self, flush: bool = False, timeout: float = 5.0) -> list[T]:
        """Stop the janitor and return the items that were not deleted.

        With ``flush=False`` the pending items are dropped and returned. With
        ``flush=True`` they are deleted now, in due order, in the calling
        thread; the ones whose ``delete`` failed are returned. Waits at most
        ``timeout`` seconds for the janitor to finish a delete in progress.
        Idempotent; ``schedule`` raises after ``close``.
        """
        limit = require_seconds("timeout", timeout)
        with self._cond:
            if self._closed:
                return []
            self._closed = True
            items = [item for _, _, item in sorted(self._heap)]
            self._heap.clear()
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(limit)
            if thread.is_alive():
                logger.warning("deferred-delete janitor still busy after %.1f s", limit)
        if flush:
            return [item for item in items if not self._delete_logged(item)]
        return items

    def _start_janitor(self) -> None:
        """Start a janitor thread. Caller holds the condition."""
        token = self._janitor = object()
        self._thread = threading.Thread(
            target=self._run, args=(token,), name=self._thread_name, daemon=True
        )
        self._thread.start()

    def _run(self, token: object) -> None:
        popped = False
        try:
            while (item := self._next_due(token)) is not _EXIT:
                popped = True
                self._delete_logged(item)
        finally:
            with self._cond:
                if self._janitor is token:  # killed by a BaseException: allow a restart
                    self._janitor = None
                    # Items scheduled while this janitor was busy were not announced
                    # (a janitor was running): without a successor they would wait for
                    # the next schedule(), perhaps forever. Only a janitor that popped
                    # an item hands over, so a fault before any progress (a clock that
                    # raises) cannot churn threads without end.
                    if popped and self._heap and not self._closed:
                        self._start_janitor()

    def _next_due(self, token: object) -> Any:
        """Wait for the head item to be due and pop it; ``_EXIT`` when idle or closed."""
        with self._cond:
            while True:
                if self._closed or not self._heap:
                    if self._janitor is token:
                        self._janitor = None
                    return _EXIT
                due, _, item = self._heap[0]
                remaining = due - self._clock()
                if remaining <= 0:
                    heapq.heappop(self._heap)
                    return item
                self._cond.wait(min(remaining, threading.TIMEOUT_MAX))

    def _delete_logged(self, item: T) -> bool:
        try:
            self._delete(item)
        except Exception:
            logger.exception("deferred delete of %r failed; skipped", item)
            return False
        return True
