"""Counting distinct schedules: exact while few, then a fixed-size estimate (flat memory)."""

from __future__ import annotations

import threading
import tracemalloc

import pytest

from pytest_concurrency.world import distinct
from pytest_concurrency.world.api import checkpoint, explore
from pytest_concurrency.world.distinct import DistinctCounter


def _schedules(count: int, start: int = 0) -> list[tuple[int, ...]]:
    return [(0, 1, n % 3, n) for n in range(start, start + count)]


def test_the_count_is_exact_up_to_the_limit() -> None:
    counter = DistinctCounter(limit=100)
    for choices in _schedules(100) * 3:  # every schedule three times
        counter.add(choices)
    assert counter.exact and counter.count == 100


def test_past_the_limit_the_count_is_an_estimate_within_a_few_percent() -> None:
    counter = DistinctCounter(limit=1000)
    for choices in _schedules(50_000):
        counter.add(choices)
    assert not counter.exact
    assert abs(counter.count - 50_000) <= 50_000 * 0.05


def test_repeats_past_the_limit_do_not_inflate_the_estimate() -> None:
    counter = DistinctCounter(limit=50)
    for choices in _schedules(200):
        counter.add(choices)
    once = counter.count
    for choices in _schedules(200) * 20:
        counter.add(choices)
    assert counter.count == once
    assert 50 < once <= 220


def test_memory_stops_growing_at_the_limit() -> None:
    counter = DistinctCounter(limit=1000)
    for choices in _schedules(1001):
        counter.add(choices)
    more = _schedules(100_000, start=2000)  # made first: only what the counter keeps counts
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for choices in more:
            counter.add(choices)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1024, f"{grown} bytes kept for 100,000 more schedules"


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must be >= 0"):
        DistinctCounter(limit=-1)


def test_an_exploration_says_when_its_count_is_an_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    def scenario() -> None:
        def steps() -> None:
            for _ in range(4):
                checkpoint()

        other = threading.Thread(target=steps)
        other.start()
        steps()
        other.join()

    small = explore(scenario, strategy="random", seed=1, runs=40)
    assert small.distinct_exact and small.distinct_schedules <= 40
    monkeypatch.setattr(distinct, "EXACT_LIMIT", 10)
    long = explore(scenario, strategy="random", seed=1, runs=40)
    assert not long.distinct_exact
    assert abs(long.distinct_schedules - small.distinct_schedules) <= 3
