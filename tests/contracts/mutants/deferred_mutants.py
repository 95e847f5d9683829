"""DeferredDeleter with seed 002b's bugs put back."""

from __future__ import annotations

import heapq
import time
from typing import Any, TypeVar

from pytest_concurrency.demo.contracts_demo import OneThreadPerItem
from reference_impl import DeferredDeleter
from reference_impl.deferred import _EXIT

from . import mutant

T = TypeVar("T")


class DeafJanitor(DeferredDeleter[T]):
    """The janitor sleeps until the head item is due, deaf to an earlier item scheduled later."""

    def _next_due(self, token: object) -> Any:
        while True:
            with self._cond:
                if self._closed or not self._heap:
                    if self._janitor is token:
                        self._janitor = None
                    return _EXIT
                due, _, item = self._heap[0]
                remaining = due - self._clock()
                if remaining <= 0:
                    heapq.heappop(self._heap)
                    return item
            time.sleep(remaining)  # the bug: not a wait on the condition


class FailingDeleteKillsJanitor(DeferredDeleter[T]):
    """A delete that raises kills the janitor; the items already pending are stranded."""

    def _delete_logged(self, item: T) -> bool:
        self._delete(item)  # the bug: no try/except
        return True


class DeadJanitorNeverRestarted(DeferredDeleter[T]):
    """A janitor killed mid-loop never clears its token, so schedule() thinks it still runs."""

    def _run(self, token: object) -> None:
        while (item := self._next_due(token)) is not _EXIT:  # the bug: no finally
            self._delete_logged(item)


class DyingJanitorStrandsItems(DeferredDeleter[T]):
    """A killed janitor frees its slot but hands nothing over: pending items wait for schedule()."""

    def _run(self, token: object) -> None:
        try:
            while (item := self._next_due(token)) is not _EXIT:
                self._delete_logged(item)
        finally:
            with self._cond:
                if self._janitor is token:  # the bug: no successor for the pending items
                    self._janitor = None


class RestartMissedWhileUnwinding(DeferredDeleter[T]):
    """schedule() asks Thread.is_alive(), which is still True while a dead janitor unwinds."""

    def schedule(self, item: T, delay: float) -> None:
        due = self._clock() + delay
        with self._cond:
            seq = next(self._seq)
            heapq.heappush(self._heap, (due, seq, item))
            if self._thread is None or not self._thread.is_alive():  # the bug
                self._start_janitor()
            else:
                self._cond.notify()


MUTANTS = (
    mutant(
        OneThreadPerItem,
        "seed 002b original",
        "one thread sleeping per pending item",
        "test_one_thread_for_any_number_of_items",
        "test_close_returns_the_pending_items_and_stops",
        "test_a_failing_delete_does_not_stop_the_janitor",  # its threads let the error escape
        skipped=(
            (
                "test_each_item_is_deleted_exactly_once",
                "three sleeping threads take its dfs space past the default budget",
            ),
        ),
    ),
    mutant(
        DeafJanitor,
        "seed 002b review",
        "the janitor sleeps until the head is due, deaf to an earlier item",
        "test_items_are_deleted_in_due_order_when_due",
        "test_an_earlier_item_wakes_the_janitor",
    ),
    mutant(
        FailingDeleteKillsJanitor,
        "seed 002b review",
        "a failing delete kills the janitor",
        "test_a_failing_delete_does_not_stop_the_janitor",
    ),
    mutant(
        DeadJanitorNeverRestarted,
        "seed 002b review",
        "a dead janitor is never restarted",
        "test_a_dead_janitor_is_restarted",
        "test_a_janitor_is_replaced_while_it_still_unwinds",
        "test_an_item_pending_when_the_janitor_dies_is_not_stranded",
    ),
    mutant(
        DyingJanitorStrandsItems,
        "issue 5 residual",
        "a killed janitor starts no successor, stranding items scheduled while it was busy",
        "test_an_item_pending_when_the_janitor_dies_is_not_stranded",
    ),
    mutant(
        RestartMissedWhileUnwinding,
        "issue 5 residual",
        "the restart is missed while the dying janitor is still unwinding (is_alive check)",
        "test_a_janitor_is_replaced_while_it_still_unwinds",
        "test_each_item_is_deleted_exactly_once",
    ),
)
