"""The "concurrency" section at the end of a run: explorations, schedules, failures, reports."""

from __future__ import annotations

import re

import pytest
from concurrency_section import section as _section

from pytest_concurrency.world.session_summary import (
    ExplorationRecord,
    FailureRecord,
    SessionSummary,
)

pytest_plugins = ["pytester"]


def test_the_lines_say_counts_then_each_failure() -> None:
    summary = SessionSummary(
        [
            ExplorationRecord("t.py::a", "dfs", 40, 0.25, exhausted=True),
            ExplorationRecord("t.py::a", "pct", 1000, 1.5),
            ExplorationRecord("t.py::b", "random", 1, 0.01),
        ],
        [FailureRecord("t.py::b", "assert 1 == 2", "pytest t.py::b --x=1", "out/t.py__b.html")],
    )
    assert summary.lines() == [
        "3 explorations in 2 tests: 1041 schedules in 1.8 s, 1 covered their whole space; "
        "1 failure",
        "t.py::b: assert 1 == 2",
        "  replay: pytest t.py::b --x=1",
        "  report: out/t.py__b.html",
    ]
    assert SessionSummary().lines() == []


def test_the_records_travel_as_plain_data() -> None:
    summary = SessionSummary(
        [ExplorationRecord("t.py::a", "dfs", 4, 0.5)], [FailureRecord("t.py::a", "x", "c")]
    )
    merged = SessionSummary([ExplorationRecord("t.py::z", "pct", 1, 0.1)])
    merged.merge_data(summary.to_data())
    assert merged.explorations[1:] == summary.explorations
    assert merged.failures == summary.failures


_TESTS = """
import pytest
from pytest_concurrency import checkpoint, spawn

def racy():
    box = {"n": 0}
    def add():
        value = box["n"]
        checkpoint("read")
        box["n"] = value + 1
    workers = [spawn(add) for _ in range(2)]
    for worker in workers:
        worker.join()
    assert box["n"] == 2

@pytest.mark.interleavings(strategy="dfs")
def test_racy():
    racy()

def test_fine(interleavings):
    interleavings.explore(lambda: None, strategy="random", runs=5)

def test_plain():
    pass
"""


def _check(section: list[str], tmp: str) -> None:
    assert re.fullmatch(
        r"2 explorations in 2 tests: \d+ schedules in [\d.]+ s; 1 failure", section[0]
    ), section
    assert section[1] == "test_it.py::test_racy: AssertionError: assert 1 == 2"
    assert re.fullmatch(
        r"  replay: pytest test_it.py::test_racy --interleavings-replay=pc1\.\S+", section[2]
    )
    assert section[3] == f"  report: {tmp}/out/test_it.py__test_racy.html"
    assert len(section) == 4


def test_the_section_ends_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "--interleavings-report=out")
    result.assert_outcomes(passed=2, failed=1)
    _check(_section(result.stdout.str()), str(pytester.path))


def test_no_section_without_an_exploration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-k", "plain")
    result.assert_outcomes(passed=1)
    assert not re.search(r"=+ concurrency =+", result.stdout.str())


@pytest.mark.inner_plugins("xdist")
def test_xdist_workers_send_their_part_to_the_controller(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    result = pytester.runpytest_subprocess("-n", "2", "--interleavings-report=out")
    result.assert_outcomes(passed=2, failed=1)
    _check(_section(result.stdout.str()), str(pytester.path))
