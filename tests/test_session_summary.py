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


def test_the_lines_say_counts_what_each_kind_covered_then_each_failure() -> None:
    summary = SessionSummary(
        [
            ExplorationRecord("t.py::a", "dfs", 40, 0.25, exhausted=True, preemption_bound=2),
            ExplorationRecord("t.py::a", "pct", 1000, 1.5),
            ExplorationRecord("t.py::b", "random", 1, 0.01, failed=True),
            ExplorationRecord("t.py::c", "dpor", 5, 0.1, True, "memory", None, 4),
            ExplorationRecord("t.py::d", "dpor", 10000, 9.0, False, "memory", None, 9000),
        ],
        [FailureRecord("t.py::b", "assert 1 == 2", "pytest t.py::b --x=1", "out/t.py__b.html")],
    )
    assert summary.lines() == [
        "5 explorations in 4 tests: 11046 schedules in 10.9 s, 2 covered their whole space; "
        "1 failure",
        "  dfs, sync granularity, preemption bound 2: 1 pass, 40 executions; "
        "1 exhausted, 0 NOT exhausted",
        "  pct, sync granularity: 1 pass, 1000 executions (sampled)",
        "  dpor, memory granularity, no preemption bound: 2 passes, 9004 equivalence classes "
        "in 10005 executions; 1 exhausted, 1 NOT exhausted",
        "    not exhausted: t.py::d (10000 executions)",
        "t.py::b: assert 1 == 2",
        "  replay: pytest t.py::b --x=1",
        "  report: out/t.py__b.html",
    ]
    assert SessionSummary().lines() == []


def test_the_summary_names_a_few_explorations_that_did_not_exhaust_their_space() -> None:
    short = [ExplorationRecord(f"t.py::t{n}", "dpor", 3, 0.1, False, "memory") for n in range(7)]
    lines = SessionSummary(short).lines()
    assert lines[1].endswith("0 exhausted, 7 NOT exhausted")
    assert lines[2].startswith("    not exhausted: t.py::t0 (3 executions), t.py::t1")
    assert lines[2].endswith("t.py::t4 (3 executions) and 2 more")


def test_the_records_travel_as_plain_data() -> None:
    summary = SessionSummary(
        [ExplorationRecord("t.py::a", "dfs", 4, 0.5)], [FailureRecord("t.py::a", "x", "c")]
    )
    merged = SessionSummary([ExplorationRecord("t.py::z", "pct", 1, 0.1)])
    merged.merge_data(summary.to_data())
    assert merged.explorations[1:] == summary.explorations
    assert merged.failures == summary.failures


_TESTS = """
import threading

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

def test_default(interleavings):
    def locked():
        lock = threading.Lock()
        box = {"n": 0}
        def add():
            with lock:
                box["n"] += 1
        workers = [spawn(add) for _ in range(2)]
        for worker in workers:
            worker.join()
        assert box["n"] == 2
    interleavings.explore(locked)

def test_plain():
    pass
"""


def _check(section: list[str], tmp: str) -> None:
    assert re.fullmatch(
        r"3 explorations in 3 tests: \d+ schedules in [\d.]+ s, 1 covered their whole space; "
        r"1 failure",
        section[0],
    ), section
    # what the passes covered, by kind (the failing dfs exploration is no pass)
    assert sorted(section[1:3]) == [
        "  dpor, memory granularity, no preemption bound: 1 pass, 2 equivalence classes in "
        "2 executions; 1 exhausted, 0 NOT exhausted",
        "  random, sync granularity: 1 pass, 5 executions (sampled)",
    ], section
    assert section[3] == "test_it.py::test_racy: AssertionError: assert 1 == 2"
    assert re.fullmatch(
        r"  replay: pytest test_it.py::test_racy --interleavings-replay=pc1\.\S+", section[4]
    )
    assert section[5] == f"  report: {tmp}/out/test_it.py__test_racy.html"
    assert len(section) == 6


def test_the_section_ends_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "--interleavings-report=out")
    result.assert_outcomes(passed=3, failed=1)
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
    result.assert_outcomes(passed=3, failed=1)
    _check(_section(result.stdout.str()), str(pytester.path))
