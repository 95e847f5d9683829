"""``DeferredDeleterContract``: one janitor thread deletes every item when due.

The original deferred deleter parked one pool thread in ``time.sleep(480)`` per
pending delete and starved the pool. Its fix -- a due-time heap and one lazily
started janitor -- must also keep due order when an earlier item arrives
mid-wait, survive a failing delete, and be restarted when something kills it,
even while the dying thread is still unwinding.

The properties run on the explorer's virtual time: an eight-minute delay costs
nothing, and "deleted at +10 s" is checked to the second. One runs on real
threads: the window in which a killed janitor is still alive (its
``threading.excepthook`` runs in the dying thread) is not modelled by the
explorer, so the contract schedules from inside that hook. Items are strings;
``delete`` records each call with the time it happened at.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from pytest_concurrency._patching import Patcher
from pytest_concurrency.contracts._base import Contract, abstract_subject
from pytest_concurrency.contracts._support import ContractError

__all__ = ["DeferredDeleterContract", "JanitorKilled"]


class JanitorKilled(BaseException):
    """What a delete raises to kill the janitor (not an ``Exception``: nothing catches it)."""


class DeferredDeleterLike(Protocol):
    """What ``DeferredDeleterContract.make_subject`` returns."""

    def schedule(self, item: Any, delay: float) -> None: ...

    def close(self) -> Any: ...


class _Deletions:
    """The ``delete`` handed to the subject: records (item, seconds since start); may fail."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.done: list[tuple[str, float]] = []
        self._changed = threading.Condition()

    def __call__(self, item: str) -> None:
        if item.startswith("failing"):
            raise ContractError(f"deleting {item} failed")
        if item.startswith("poison"):
            raise JanitorKilled(f"deleting {item} killed the janitor")
        with self._changed:
            self.done.append((item, time.monotonic() - self.began))
            self._changed.notify_all()

    def items(self) -> list[str]:
        return [item for item, _ in self.done]

    def wait_for(self, item: str, timeout: float) -> bool:
        """Real threads only: wait (bounded) until ``item`` was deleted."""
        with self._changed:
            return self._changed.wait_for(lambda: item in self.items(), timeout)


class DeferredDeleterContract(Contract):
    """Properties of a deferred deleter: ``schedule(item, delay)`` and ``close()``.

    Override ``make_subject(self, delete)`` to return a new deleter that calls
    ``delete(item)`` once each item is due. ``close()`` must stop it and return
    the items it did not delete. Budgets: ``pending_items`` (items scheduled at
    once in the one-thread property, default 5), ``max_lateness`` (virtual
    seconds a deletion may come after its due time, default 0: a janitor that
    waits on a condition with a timeout is exact) and ``real_timeout`` (real
    seconds the one real-thread property waits for a deletion, default 2).
    """

    __test__ = False
    subject_signature = "make_subject(self, delete)"
    subject_description = (
        "a new deleter with schedule(item, delay) and close() that calls delete(item) when due"
    )
    subject_methods = ("schedule", "close")

    pending_items: ClassVar[int] = 5
    max_lateness: ClassVar[float] = 0.0
    #: real seconds the real-thread property waits for a deletion
    real_timeout: ClassVar[float] = 2.0

    @abstract_subject
    def make_subject(self, delete: Callable[[Any], Any]) -> Any:
        raise NotImplementedError(self._override_message())

    def _deleter(self) -> tuple[DeferredDeleterLike, _Deletions]:
        deletions = _Deletions()
        deleter: DeferredDeleterLike = self.subject(deletions)
        return deleter, deletions

    def _assert_on_time(self, deletions: _Deletions, expected: list[tuple[str, float]]) -> None:
        """``deletions`` holds exactly ``expected`` (item, due), in order, none late or early."""
        items = deletions.items()
        on_time = all(
            due <= at <= due + self.max_lateness
            for (_, at), (_, due) in zip(deletions.done, expected, strict=False)
        )
        assert (items, on_time) == ([item for item, _ in expected], True), (
            f"deletions (item, seconds) were {deletions.done}; expected {expected} "
            f"(each at its due time, at most {self.max_lateness} s late)"
        )

    def test_one_thread_for_any_number_of_items(self) -> None:
        """Any number of pending items costs at most one thread."""

        def scenario() -> None:
            before = set(threading.enumerate())
            deleter, _ = self._deleter()
            for n in range(self.pending_items):
                deleter.schedule(f"blob-{n}", 480.0 + n)
            time.sleep(1.0)  # virtual: whatever the deleter started is running now
            started = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
            deleter.close()
            assert len(started) <= 1, (
                f"{self.pending_items} pending items hold {len(started)} threads ({started}); "
                "one janitor thread must serve any number of items"
            )

        self.explore(scenario)

    def test_items_are_deleted_in_due_order_when_due(self) -> None:
        """Items are deleted in due order, each when due, whatever order they came in."""

        def scenario() -> None:
            deleter, deletions = self._deleter()
            for item, delay in (("blob-30", 30.0), ("blob-10", 10.0), ("blob-20", 20.0)):
                deleter.schedule(item, delay)
            time.sleep(100.0)
            deleter.close()
            self._assert_on_time(
                deletions, [("blob-10", 10.0), ("blob-20", 20.0), ("blob-30", 30.0)]
            )

        self.explore(scenario)

    def test_an_earlier_item_wakes_the_janitor(self) -> None:
        """An item due before the one the janitor waits for is deleted on time."""

        def scenario() -> None:
            deleter, deletions = self._deleter()
            deleter.schedule("blob-480", 480.0)
            time.sleep(1.0)  # the janitor now waits for the 480 s item
            deleter.schedule("blob-11", 10.0)
            time.sleep(100.0)
            deleter.close()
            self._assert_on_time(deletions, [("blob-11", 11.0)])

        self.explore(scenario)

    def test_a_failing_delete_does_not_stop_the_janitor(self) -> None:
        """A delete that raises is logged and skipped by the janitor itself.

        The error never escapes the janitor's thread (an escaped error fails the
        schedule), and later items are still deleted on time.
        """

        def scenario() -> None:
            deleter, deletions = self._deleter()
            deleter.schedule("failing-blob", 1.0)
            deleter.schedule("blob-2", 2.0)
            time.sleep(10.0)
            deleter.close()
            self._assert_on_time(deletions, [("blob-2", 2.0)])

        self.explore(scenario)

    def test_an_item_pending_when_the_janitor_dies_is_not_stranded(self) -> None:
        """An item scheduled just before the janitor is killed is deleted on time anyway.

        No later ``schedule()`` comes to restart the janitor: the dying one must
        hand its pending items to a successor.
        """

        def scenario() -> None:
            deleter, deletions = self._deleter()
            deleter.schedule("poison-blob", 1.0)
            time.sleep(1.0)  # wakes with the janitor, which then dies deleting the poison
            deleter.schedule("blob-2", 1.0)  # before, while or after the janitor dies
            time.sleep(10.0)
            deleter.close()
            self._assert_on_time(deletions, [("blob-2", 2.0)])

        self.explore(scenario, thread_errors="ignore")

    def test_a_dead_janitor_is_restarted(self) -> None:
        """After the janitor is killed, the next schedule() starts a new one.

        An item scheduled just before the janitor died may wait for that next
        schedule(); the one scheduled after it is deleted on time.
        """

        def scenario() -> None:
            deleter, deletions = self._deleter()
            deleter.schedule("poison-blob", 1.0)
            time.sleep(1.0)  # wakes with the janitor, which then dies deleting the poison
            deleter.schedule("blob-2", 1.0)  # before, while or after the janitor dies
            time.sleep(5.0)
            deleter.schedule("blob-7", 1.0)  # certainly after it died
            time.sleep(10.0)
            deleter.close()
            done = dict(deletions.done)
            assert (sorted(done), done.get("blob-7")) == (["blob-2", "blob-7"], 7.0), (
                f"deletions (item, seconds) were {deletions.done}; after the janitor was killed, "
                "schedule('blob-7') at 6 s must start a new janitor that deletes blob-7 at 7 s "
                "(and blob-2, due at 2 s, by then)"
            )

        self.explore(scenario, thread_errors="ignore")

    def test_a_janitor_is_replaced_while_it_still_unwinds(self) -> None:
        """A schedule() made while a killed janitor is still alive, unwinding, starts a new one.

        Real threads: ``threading.excepthook`` runs in the dying thread while
        ``Thread.is_alive()`` is still True, so the contract schedules from there.
        """
        deletions = _Deletions()
        deleter: DeferredDeleterLike = self.subject(deletions)
        unwinding: list[bool] = []
        original = threading.excepthook

        def excepthook(args: Any) -> None:
            if not isinstance(args.exc_value, JanitorKilled):
                original(args)
                return
            unwinding.append(threading.current_thread().is_alive())
            deleter.schedule("blob-late", 0.0)

        with Patcher() as patcher:
            patcher.setattr(threading, "excepthook", excepthook)
            deleter.schedule("poison-blob", 0.0)
            deleted = deletions.wait_for("blob-late", self.real_timeout)
            if not unwinding:  # the janitor survived the kill: schedule as usual
                deleter.schedule("blob-late", 0.0)
                deleted = deletions.wait_for("blob-late", self.real_timeout)
        left = deleter.close()
        assert deleted, (
            f"blob-late, scheduled while the killed janitor was still unwinding (is_alive() was "
            f"{unwinding}), was not deleted within {self.real_timeout} s (close() returned "
            f"{left!r}): the dying janitor was taken for a running one and not replaced"
        )

    def test_each_item_is_deleted_exactly_once(self) -> None:
        """Each item is deleted exactly once, also when scheduled as the janitor goes idle."""

        def scenario() -> None:
            deleter, deletions = self._deleter()
            deleter.schedule("blob-a", 1.0)
            time.sleep(1.0)  # wakes with the janitor, which deletes blob-a, then may go idle
            deleter.schedule("blob-c", 1.0)
            time.sleep(10.0)
            deleter.close()
            deleted = sorted(deletions.items())
            assert deleted == ["blob-a", "blob-c"], (
                f"deleted {deleted}; blob-a and blob-c must each be deleted exactly once"
            )

        self.explore(scenario)

    def test_close_returns_the_pending_items_and_stops(self) -> None:
        """close() returns the items not deleted, deletes nothing later, and leaves no thread."""

        def scenario() -> None:
            before = set(threading.enumerate())
            deleter, deletions = self._deleter()
            deleter.schedule("blob-100", 100.0)
            deleter.schedule("blob-200", 200.0)
            time.sleep(1.0)
            left = deleter.close()
            time.sleep(300.0)
            alive = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
            assert (sorted(left or []), deletions.done) == (["blob-100", "blob-200"], []), (
                f"close() returned {left!r} and later {deletions.items()} were deleted; it must "
                "return both pending items and delete nothing afterwards"
            )
            assert not alive, f"threads {alive} still run after close()"

        self.explore(scenario)
