"""boltons (pinned in the test-libs extra): a ``ThresholdCounter`` fed by two threads.

``cacheutils.ThresholdCounter.add`` bumps its total and the key's count with
``+=`` and creates a new key's entry after a failed lookup, all in plain Python.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext

import pytest
from real_checks import found, proven, run_threads

cacheutils = pytest.importorskip("boltons.cacheutils", reason="pip install -e .[test-libs]")

TRACE = ["boltons.cacheutils", __file__]


def _count_twice(guard: AbstractContextManager[object]) -> None:
    hits = cacheutils.ThresholdCounter(threshold=0.1)

    def count() -> None:
        with guard:
            hits.add("/index.html")

    run_threads(count, count)
    assert hits.get("/index.html") == 2, f"two hits counted as {hits.get('/index.html')}"
    assert hits.total == 2, f"a total of {hits.total} for two hits"


def test_two_threads_counting_a_new_key_lose_a_count() -> None:
    """Two threads count the same page for the first time: both miss the key, both
    create its entry with a count of 1, and the second entry replaces the first --
    the counter says 1 for two hits (or the total loses one the same way)."""
    failure = found(lambda: _count_twice(nullcontext()), TRACE)
    assert "for two hits" in str(failure) or "two hits counted as 1" in str(failure)


def test_counting_under_a_lock_counts_every_hit() -> None:
    """The same counts, each under one lock held by the application."""
    proven(lambda: _count_twice(threading.Lock()), TRACE)
