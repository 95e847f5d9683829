"""The partial-order reduction bench section: its rows' shape, its children, its scenarios.

Timings are never judged here (they are figures, not verdicts); what is checked
is that every scenario gets its rows, with the right outcome, and that the
peer's rows carry baselines and goals when the peer is measured.
"""

from __future__ import annotations

import threading

import pytest

from pytest_concurrency import bench
from pytest_concurrency.bench import dpor_bench
from pytest_concurrency.bench.dpor_scenarios import SCENARIOS, as_scenario, by_name


def test_the_section_is_registered() -> None:
    assert "pytest_concurrency.bench.dpor_bench" in bench.SECTIONS
    assert dpor_bench.TITLE == "Partial-order reduction"


def test_without_the_peer_only_ours_is_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dpor_bench, "peer_version", lambda: None)
    monkeypatch.setattr(dpor_bench, "ITERATIONS", 300)
    rows = dpor_bench.run(1)
    assert len(rows) == 3 * len(SCENARIOS) + 4
    for scenario, triple in zip(SCENARIOS, zip(*[iter(rows)] * 3, strict=True), strict=False):
        executions, fresh, inner = triple
        for row in triple:
            assert row.name.startswith(scenario.name)
            assert "frontrun not installed, ours only" in row.name
            assert row.baseline is None
        wanted = "found" if scenario.expect == "find" else "proved"
        assert f"ours {wanted}" in executions.name
        assert executions.unit == "runs" and executions.median >= 1
        assert executions.met is True
        assert fresh.unit == inner.unit == "s"
        assert fresh.median > 0 and inner.median > 0
    alone, alone_point, choosing, choosing_point = rows[-4:]
    for loop, point in ((alone, alone_point), (choosing, choosing_point)):
        assert loop.unit == "ms" and loop.baseline is not None
        assert point.unit == "ns per access"
    assert "no other thread runnable" in alone.name
    assert "every access a choice" in choosing.name


def test_with_the_peer_rows_compare_against_it(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {
        "ours": dpor_bench.Answer("proved", 2, 0.01, 0.1),
        "frontrun": dpor_bench.Answer("proved", 3, 0.02, 0.6),
    }
    monkeypatch.setattr(dpor_bench, "measure", lambda tool, index: answers[tool])
    index = SCENARIOS.index(by_name("locked counter, 2 threads"))
    executions, fresh, inner = dpor_bench._scenario_rows(index, 2, "0.7.0")
    assert "frontrun 0.7.0 proved" in executions.name
    assert (executions.median, executions.baseline, executions.met) == (2, 3, True)
    assert (fresh.median, fresh.baseline, fresh.goal, fresh.met) == (0.1, 0.6, "ratio <= 0.2", True)
    assert (inner.median, inner.baseline) == (0.01, 0.02)

    answers["ours"] = dpor_bench.Answer("proved", 4, 0.5, 0.5)
    executions, fresh, _ = dpor_bench._scenario_rows(index, 1, "0.7.0")
    assert executions.met is False and fresh.met is False


def test_a_wrong_outcome_is_not_met(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        dpor_bench, "measure", lambda tool, index: dpor_bench.Answer("proved", 2, 0.01, 0.1)
    )
    index = SCENARIOS.index(by_name("lost update, 2 threads"))
    executions, _, _ = dpor_bench._scenario_rows(index, 1, None)
    assert executions.met is False


def test_the_child_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="tool must be 'ours' or 'frontrun'"):
        dpor_bench.child("loom", 0)
    with pytest.raises(ValueError, match=r"index must be in 0\.\.4"):
        dpor_bench.child("ours", 5)
    assert dpor_bench.main([]) == 2


def test_the_child_reports_one_answer() -> None:
    index = SCENARIOS.index(by_name("lost update, 2 threads"))
    report = dpor_bench.child("ours", index)
    assert report["outcome"] == "found"
    assert isinstance(report["executions"], int) and report["executions"] >= 1


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_holds_when_its_workers_run_one_after_another(scenario: object) -> None:
    from pytest_concurrency.bench.dpor_scenarios import Scenario

    assert isinstance(scenario, Scenario)
    state = scenario.setup()
    for _ in range(scenario.threads):
        worker = threading.Thread(target=scenario.worker, args=(state,))
        worker.start()
        worker.join(10)
    assert scenario.invariant(state)
    if scenario.expect == "prove":  # a guard holds under real threads too (a race may not show)
        as_scenario(scenario)()
    assert as_scenario(scenario).__name__.isidentifier()


def test_an_unknown_scenario_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no benchmark scenario named 'nope'; known: 'lost update"):
        by_name("nope")
