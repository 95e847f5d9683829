"""Strategies: seeded determinism, DFS exhaustion counts, PCT and random coverage."""

from __future__ import annotations

import threading

import pytest

from pytest_concurrency.world.api import checkpoint, explore


def _recording_scenario(log: list[tuple[str, ...]]) -> object:
    def scenario() -> None:
        events: list[str] = []

        def worker(name: str) -> None:
            for step in range(2):
                checkpoint(f"{name}{step}")
                events.append(f"{name}{step}")

        threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        log.append(tuple(events))

    return scenario


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_same_seed_same_schedules(strategy: str) -> None:
    first: list[tuple[str, ...]] = []
    second: list[tuple[str, ...]] = []
    other: list[tuple[str, ...]] = []
    explore(_recording_scenario(first), strategy=strategy, runs=25, seed=11)
    explore(_recording_scenario(second), strategy=strategy, runs=25, seed=11)
    explore(_recording_scenario(other), strategy=strategy, runs=25, seed=12)
    assert first == second
    assert first != other
    assert len(set(first)) > 1  # it does explore different interleavings


def test_random_seed_is_reported() -> None:
    result = explore(lambda: None, strategy="random", runs=2)
    assert isinstance(result.seed, int)
    assert result.strategy == "random"
    assert result.schedules_run == 2
    assert not result.exhausted


def _tiny() -> None:
    t = threading.Thread(target=checkpoint, args=("a",))
    t.start()
    checkpoint("b")
    t.join()


@pytest.mark.parametrize(("bound", "expected"), [(0, 1), (1, 4), (2, 7), (3, 10), (4, 10)])
def test_dfs_exhausts_the_bounded_space(bound: int, expected: int) -> None:
    # Choice points of _tiny (S = scenario, T = the thread): after start (P1), before
    # checkpoint b (P2), before join (P3), and T's checkpoint a (Q1) while S can still run.
    # Writing each schedule as its choices, with the preemptions it costs:
    #   0: SSS
    #   1: SSTT, STT, TT
    #   2: SSTS, STSS, TSSS
    #   3: STST, TSST, TST
    # so 1, 4, 7 and then 10 schedules for any bound from 3 on.
    result = explore(_tiny, strategy="dfs", preemption_bound=bound, runs=100)
    assert result.exhausted
    assert result.schedules_run == expected
    assert result.distinct_schedules == expected
    assert result.seed is None


def test_dfs_stops_at_the_run_cap_without_claiming_exhaustion() -> None:
    result = explore(_tiny, strategy="dfs", preemption_bound=2, runs=3)
    assert result.schedules_run == 3
    assert not result.exhausted


def test_time_budget_stops_an_unbounded_exploration() -> None:
    result = explore(_tiny, strategy="random", runs=None, time_budget=0.2, seed=1)
    assert result.schedules_run >= 1
    assert result.elapsed < 5


def test_pct_finds_a_depth_two_ordering_bug() -> None:
    # the bug needs b's write to land between a's read and a's write
    def scenario() -> None:
        box = {"v": 0}

        def a() -> None:
            value = box["v"]
            checkpoint("a-read")
            box["v"] = value + 1

        def b() -> None:
            checkpoint("b-write")
            box["v"] += 10

        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert box["v"] == 11

    with pytest.raises(AssertionError) as info:
        explore(scenario, strategy="pct", runs=200, seed=5)
    assert info.value.schedules_run <= 200  # type: ignore[attr-defined]
