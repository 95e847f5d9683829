"""sortedcontainers (pinned in the test-libs extra): a ``SortedList`` shared by threads.

sortedcontainers' types are not thread-safe: their methods update several
fields in plain Python, one after the other.
"""

from __future__ import annotations

import threading

import pytest
from real_checks import found, proven, run_threads

sortedcontainers = pytest.importorskip("sortedcontainers", reason="pip install -e .[test-libs]")

TRACE = ["sortedcontainers", __file__]


def _two_adds(*, locked: bool) -> None:
    scores = sortedcontainers.SortedList()
    lock = threading.Lock()

    def add(score: int) -> None:
        if locked:
            with lock:
                scores.add(score)
        else:
            scores.add(score)

    run_threads(lambda: add(2), lambda: add(1))
    assert len(scores) == 2, f"two adds left len() == {len(scores)} ({list(scores)})"
    assert list(scores) == [1, 2], f"two adds left {list(scores)}"


def test_concurrent_adds_to_a_sorted_list_lose_one() -> None:
    """Two threads ``add`` to one ``SortedList``: it keeps its length in ``self._len``
    and bumps it with ``+= 1`` after inserting, so two adds at once can count as one:
    ``len()`` says 1 while the list holds 2 items (or the first add into an empty
    list is made twice, as two unsorted sublists)."""
    failure = found(lambda: _two_adds(locked=False), TRACE)
    assert "two adds left" in str(failure)


def test_adds_under_a_lock_keep_the_list_whole() -> None:
    """The same adds, each under one lock."""
    proven(lambda: _two_adds(locked=True), TRACE)
