"""The demo section (seeds' bugs caught, references passing) and the load bench's bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_concurrency import bench, demo
from pytest_concurrency.bench import load_bench
from pytest_concurrency.demo import contracts_demo


def test_both_sections_are_registered() -> None:
    assert "pytest_concurrency.demo.contracts_demo" in demo.SECTIONS
    assert "pytest_concurrency.bench.load_bench" in bench.SECTIONS
    assert contracts_demo.TITLE == "Guards from real fixes and their contracts"
    assert load_bench.TITLE == "Guards under load"


@pytest.mark.parametrize("case", contracts_demo.CASES, ids=lambda case: case.guard)
def test_each_guards_original_bug_is_caught_with_its_trace_and_token(
    case: contracts_demo.GuardCase,
) -> None:
    outcome = contracts_demo._caught(case)
    assert outcome.ok, outcome
    assert outcome.observed.startswith(f"{case.caught_by} failed after ")
    assert "step  thread" in outcome.detail
    assert "replay token: pc1." in outcome.detail


def test_a_reference_passing_its_contract_reports_what_it_explored() -> None:
    outcome = contracts_demo._holds(contracts_demo.ReferenceRunGuard, "a run guard")
    assert outcome.ok, outcome.detail
    assert outcome.observed.startswith("7/7 hold, ")
    assert outcome.observed.endswith(" schedules explored")


def test_a_contract_that_does_not_hold_is_an_unexpected_demo_outcome() -> None:
    case = contracts_demo.CASES[4]  # the run guard: its buggy version against the whole contract
    outcome = contracts_demo._holds(case.buggy_contract(), case.guard)
    assert not outcome.ok
    assert "FAILED  test_at_most_one_run_is_accepted" in outcome.detail


def test_every_load_holds_its_invariants_at_a_small_size() -> None:
    rows = load_bench.measure(1, calls=320, threads=8)
    assert [row.name.split(",")[0] for row in rows] == [name for name, *_ in load_bench.LOADS]
    for row in rows:
        assert row.met, row.goal
        assert row.unit == "calls/s" and row.median > 0
        assert row.baseline is not None and row.baseline > 0


class _LoadsEveryTime:
    """A "cache" that loads on every get and keeps a lock per key: both invariants break."""

    def __init__(self, loader: Callable[[str], Any]) -> None:
        self._loader = loader
        self.lock_count = 3

    def get(self, key: str) -> Any:
        return self._loader(key)


def test_a_broken_invariant_is_reported_in_its_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_bench, "BuildOnceCache", _LoadsEveryTime)
    monkeypatch.setattr(load_bench, "LOADS", load_bench.LOADS[:1])
    (row,) = load_bench.measure(1, calls=64, threads=4)
    assert row.met is False
    assert "VIOLATED: " in row.goal
    assert "built 4 times" in row.goal and "lock_count 3 after the load" in row.goal


def test_measure_checks_repeats() -> None:
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        load_bench.measure(0)


def test_a_hung_or_failing_load_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(t: int, i: int) -> None:
        raise RuntimeError(f"thread {t} call {i}")

    with pytest.raises(RuntimeError, match="call 0"):
        load_bench.hammer(2, 4, fails)
