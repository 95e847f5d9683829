"""A deferred deleter whose janitor keeps waiting on an old deadline.

One lazily started janitor thread deletes items when they are due (a min-heap).
The buggy janitor peeks at the earliest item and then sleeps until *that* item
is due, deaf to an earlier item scheduled meanwhile. The fixed janitor waits on
the condition with a timeout and re-peeks after every wake-up. Exploring it
needs virtual time: the deadlines are minutes away.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable


class BuggyDeleter:
    def __init__(self, delete: Callable[[str], None]) -> None:
        self._delete = delete
        self._heap: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._janitor: threading.Thread | None = None

    def schedule(self, item: str, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, item))
            if self._janitor is None:
                self._janitor = threading.Thread(target=self._run, name="janitor", daemon=True)
                self._janitor.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                due = self._heap[0][0]
            time.sleep(max(0.0, due - time.monotonic()))  # BUG: deaf to earlier items
            self._delete_due()

    def _delete_due(self) -> None:
        with self._cond:
            now = time.monotonic()
            due = []
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[1])
        for item in due:
            self._delete(item)


class FixedDeleter(BuggyDeleter):
    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)  # woken early by schedule(): re-peek
            self._delete_due()


def _earlier_item_arrives_later(deleter_class: type[BuggyDeleter]) -> None:
    deleted: list[tuple[str, float]] = []
    start = time.monotonic()
    deleter = deleter_class(lambda item: deleted.append((item, time.monotonic() - start)))
    deleter.schedule("old-blob", 480)
    deleter.schedule("new-blob", 10)
    time.sleep(60)
    assert deleted == [("new-blob", 10)], f"after 60 s only {deleted} were deleted"


def buggy() -> None:
    _earlier_item_arrives_later(BuggyDeleter)


def fixed() -> None:
    _earlier_item_arrives_later(FixedDeleter)
