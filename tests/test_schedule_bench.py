"""The per-schedule and memory bench sections: their rows, their children, their peers' shapes.

Timings and memory figures are never judged here (they are figures, not
verdicts); what is checked is that the rows are there with baselines and goals,
that the children report what the parent reads, and that a peer's scenario is
the same scenario (it holds on the fixed cache and fails on the buggy one).
"""

from __future__ import annotations

import pytest

from pytest_concurrency import bench
from pytest_concurrency.bench import explore_bench, memory_bench, schedule_peers
from pytest_concurrency.demo.zoo import single_flight


def test_the_sections_are_registered() -> None:
    assert "pytest_concurrency.bench.explore_bench" in bench.SECTIONS
    assert "pytest_concurrency.bench.memory_bench" in bench.SECTIONS


def test_without_peers_the_schedule_rows_are_ours_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule_peers, "available", list)
    monkeypatch.setattr(explore_bench, "_EXPLORED", 40)
    rows = explore_bench._schedule_rows(1)
    pooled, own, *finer = rows
    assert pooled.baseline is not None and pooled.median > 0  # fresh OS threads
    assert "no peer installed" in own.name and own.goal == "<= 2 ms"
    assert [row.name.split(" granularity")[0][-6:] for row in finer] == ["t line", "memory"]


def test_with_a_peer_the_goal_row_compares_with_its_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configs = [(config, "9.9") for config in schedule_peers.CONFIGURATIONS]
    figures = {config.label: 10.0 * (i + 1) for i, (config, _) in enumerate(configs)}
    monkeypatch.setattr(schedule_peers, "available", lambda: configs)
    monkeypatch.setattr(schedule_peers, "measure", lambda config: figures[config.label])
    monkeypatch.setattr(explore_bench, "_EXPLORED", 40)
    rows = explore_bench._schedule_rows(1)
    goal = next(row for row in rows if "best peer at its defaults" in row.name)
    defaults = [figures[c.label] for c, _ in configs if c.note.startswith("its defaults")]
    assert goal.baseline == min(defaults) and goal.goal == "ratio <= 0.1"
    assert goal.met == (goal.median <= 0.1 * min(defaults))
    assert sum(1 for row in rows if row.baseline in figures.values()) >= len(configs)


def test_explored_ms_takes_fresh_threads_when_asked() -> None:
    import os

    from pytest_concurrency.world import workers

    assert explore_bench.explored_ms(schedules=10) > 0
    assert explore_bench.explored_ms(fresh=True, schedules=10) > 0
    assert workers.FRESH_THREADS_ENV not in os.environ  # put back as it was


def test_frontruns_shape_of_the_scenario_is_the_same_cache() -> None:
    state = schedule_peers._CacheState()
    for _ in range(3):
        schedule_peers._caller(state)
    assert schedule_peers._holds(state)
    broken = schedule_peers._CacheState()
    broken.cache = single_flight.BuggySingleFlight(broken._load)
    broken.loads.append("clip")  # as if a racing caller had loaded it too
    for _ in range(3):
        schedule_peers._caller(broken)
    assert not schedule_peers._holds(broken)


@pytest.mark.parametrize(
    ("args", "match"),
    [(("bogus", 5), "strategy must be"), (("random", 0), "schedules must be >= 1")],
)
def test_the_frontrun_child_checks_its_arguments(args: tuple[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        schedule_peers.frontrun_child(*args)


def test_a_peer_that_is_not_installed_has_no_version() -> None:
    assert schedule_peers.version("pytest_concurrency_no_such_peer") is None


def test_the_memory_child_reports_its_peak_and_its_count() -> None:
    report = memory_bench.child("distinct", 30)
    assert report["schedules"] == 30 and report["distinct_exact"] is True
    assert isinstance(report["peak_kb"], int) and report["peak_kb"] > 1000
    with pytest.raises(ValueError, match="scenario must be one of"):
        memory_bench.child("nope", 10)
    with pytest.raises(ValueError, match="schedules must be >= 1"):
        memory_bench.child("cache", 0)


def test_the_memory_rows_compare_long_with_short(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(name: str, schedules: int) -> dict[str, object]:
        peak = 20_000 + (2_000 if name == "distinct" and schedules > 1000 else 0)
        return {"peak_kb": peak, "distinct": 5, "distinct_exact": schedules < 5000}

    monkeypatch.setattr(memory_bench, "measure", fake)
    cache, distinct = memory_bench.run(1)
    assert cache.met is True and cache.baseline == 20_000 / 1024
    assert distinct.met is False and "estimated" in distinct.name and "+2,000 KB" in distinct.name
