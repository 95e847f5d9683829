"""--interleavings-shards=N: every exploring test as N items, for pytest-xdist to spread.

What the session says of a split test (covered as a whole only when every
shard ran and was exhausted), how a failure in one shard replays (the test
unsplit, once), and the option's bad values.
"""

from __future__ import annotations

import re
import shlex

import pytest
from concurrency_section import section as _section

from pytest_concurrency.world.session_summary import (
    ExplorationRecord,
    FailureRecord,
    SessionSummary,
)

pytest_plugins = ["pytester"]

_TESTS = """
import threading

import pytest


def lock_order():
    lock = threading.Lock()
    order = []

    def add(n):
        for _ in range(2):
            with lock:
                order.append(n)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(order) == [0, 0, 1, 1, 2, 2]


@pytest.mark.interleavings(strategy="dfs", runs=None, preemption_bound=1)
def test_marked():
    lock_order()


@pytest.mark.parametrize("size", [1, 2])
def test_fixture(interleavings, size):
    result = interleavings.explore(lock_order, strategy="dfs", runs=None, preemption_bound=1)
    assert result.exhausted


def test_plain():
    pass
"""

_RACY = """
import threading

import pytest
from pytest_concurrency import checkpoint


def lost_update():
    box = {"n": 0}

    def add():
        value = box["n"]
        checkpoint("read")
        box["n"] = value + 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert box["n"] == 2


@pytest.mark.parametrize("size", [1])
@pytest.mark.interleavings(strategy="dfs", runs=None)
def test_racy(size):
    lost_update()
"""


def _schedules(line: str) -> int:
    found = re.search(r"(\d+) schedules", line)
    assert found is not None, line
    return int(found.group(1))


def test_every_exploring_test_is_collected_once_per_shard(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    result = pytester.runpytest_inprocess("--collect-only", "-q", "--interleavings-shards=2")
    collected = [line for line in result.outlines if "::" in line]
    assert collected == [
        # every test's first shard, then every second one (xdist hands out runs of items)
        "test_it.py::test_marked[shard-0-of-2]",
        "test_it.py::test_fixture[1-shard-0-of-2]",
        "test_it.py::test_fixture[2-shard-0-of-2]",
        "test_it.py::test_plain",
        "test_it.py::test_marked[shard-1-of-2]",
        "test_it.py::test_fixture[1-shard-1-of-2]",
        "test_it.py::test_fixture[2-shard-1-of-2]",
    ]


def test_the_ini_option_splits_too_and_one_shard_is_no_split(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    pytester.makeini("[pytest]\ninterleavings_shards = 3\n")
    result = pytester.runpytest_inprocess("--collect-only", "-q")
    assert "test_it.py::test_marked[shard-2-of-3]" in result.outlines
    result = pytester.runpytest_inprocess("--collect-only", "-q", "--interleavings-shards=1")
    assert "test_it.py::test_marked" in result.outlines


@pytest.mark.parametrize(
    ("args", "ini", "says"),
    [
        (["--interleavings-shards=0"], "", "--interleavings-shards must be >= 1, got 0"),
        ([], "interleavings_shards = two", "ini option interleavings_shards must be an integer"),
    ],
)
def test_a_bad_shard_count_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], ini: str, says: str
) -> None:
    pytester.makepyfile(test_it=_TESTS)
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert says in result.stderr.str()


@pytest.mark.inner_plugins("xdist")
def test_shards_under_xdist_add_up_to_the_unsplit_exploration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    whole = pytester.runpytest_subprocess("-p", "no:randomly", "-k", "marked")
    whole.assert_outcomes(passed=1)
    unsplit = _schedules(_section(whole.stdout.str())[0])
    split = pytester.runpytest_subprocess("-n", "2", "--interleavings-shards=2")
    split.assert_outcomes(passed=7)
    section = _section(split.stdout.str())
    assert re.fullmatch(
        r"6 explorations in 3 tests: \d+ schedules in [\d.]+ s, 3 covered their whole space; "
        r"0 failures",
        section[0],
    ), section
    marked = next(line for line in section if line.startswith("test_it.py::test_marked:"))
    assert marked.endswith(": whole space covered (every shard exhausted)"), marked
    assert _schedules(marked) == unsplit  # dfs: the shards' schedules add up exactly
    assert any(line.startswith("test_it.py::test_fixture[2]: 2 shards") for line in section)


@pytest.mark.inner_plugins("xdist")
def test_a_missing_shard_leaves_the_test_not_covered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--interleavings-shards=2", "test_it.py::test_marked[shard-0-of-2]"
    )
    result.assert_outcomes(passed=1)
    section = _section(result.stdout.str())
    assert "covered their whole space" not in section[0]
    assert section[1].endswith("not covered as a whole: shard 1 did not run"), section


@pytest.mark.inner_plugins("xdist")
def test_a_failing_shard_replays_unsplit_and_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_RACY)
    explored = pytester.runpytest_subprocess("-n", "2", "--interleavings-shards=2")
    explored.assert_outcomes(failed=2)
    section = _section(explored.stdout.str())
    assert section[1] == (
        "test_it.py::test_racy[1]: 2 shards, "
        f"{_schedules(section[1])} schedules: not covered as a whole: shard 0 failed, "
        "shard 1 failed"
    )
    commands = [line.strip()[len("replay: ") :] for line in section if "replay: " in line]
    assert len(commands) == 2
    for command in commands:
        # the test without its shard: the schedule replays in the unsplit test
        words = shlex.split(command)
        assert words[:2] == ["pytest", "test_it.py::test_racy[1]"], command
        assert words[2].startswith("--interleavings-replay=pc1."), command
        assert len(words) == 3, command
        token = words[2].split("=", 1)[1]
        replayed = pytester.runpytest_subprocess(
            "-n", "2", "--interleavings-shards=2", "test_it.py::test_racy[1]",
            f"--interleavings-replay={token}",
        )  # fmt: skip
        replayed.assert_outcomes(failed=1)  # once, not once per shard
        assert "replayed from its token" in replayed.stdout.str()
        assert "shard-" not in replayed.stdout.str()


def test_a_shard_given_in_a_split_test_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
def test_both(interleavings):
    interleavings.explore(lambda: None, strategy="random", runs=2, shard=(0, 2))
"""
    )
    result = pytester.runpytest_inprocess("--interleavings-shards=2")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*explore(shard=(0, 2)) in a test that --interleavings-shards splits already*"]
    )


def test_a_marked_test_may_explore_one_shard_itself(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
import pytest

@pytest.mark.interleavings(strategy="random", runs=4, shard=(1, 2))
def test_half():
    pass
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert _section(result.stdout.str())[1] == (
        "test_it.py::test_half: 2 shards, 2 schedules: not covered as a whole: "
        "shard 1 not exhausted, shard 0 did not run"
    )


# -- the summary's lines -------------------------------------------------------------------------


def _shard(nodeid: str, index: int, count: int, *, exhausted: bool = True) -> ExplorationRecord:
    return ExplorationRecord(
        f"{nodeid}[shard-{index}-of-{count}]",
        "dfs",
        10 + index,
        0.5,
        exhausted,
        test=nodeid,
        shard_index=index,
        shard_count=count,
    )


def test_a_split_test_is_covered_only_when_every_shard_is_exhausted() -> None:
    summary = SessionSummary(
        [
            _shard("t.py::a", 0, 2),
            _shard("t.py::a", 1, 2),
            _shard("t.py::b", 0, 3),
            _shard("t.py::b", 1, 3, exhausted=False),
            _shard("t.py::c", 1, 2),
            ExplorationRecord("t.py::d", "dfs", 5, 0.1, exhausted=True),
            _shard("t.py::e", 0, 2),
            _shard("t.py::e", 1, 2),
        ],
        [
            FailureRecord("t.py::b[shard-0-of-3]", "assert 1 == 2", "pytest t.py::b --x"),
            FailureRecord("t.py::e[shard-1-of-2]", "assert 3 == 4", "pytest t.py::e --x"),
        ],
    )
    assert summary.lines() == [
        "8 explorations in 5 tests: 79 schedules in 3.6 s, 2 covered their whole space; 2 failures",
        "t.py::a: 2 shards, 21 schedules: whole space covered (every shard exhausted)",
        "t.py::b: 3 shards, 21 schedules: not covered as a whole: shard 0 failed, "
        "shard 1 not exhausted, shard 2 did not run",
        "t.py::c: 2 shards, 11 schedules: not covered as a whole: shard 0 did not run",
        "t.py::e: 2 shards, 21 schedules: not covered as a whole: shard 1 failed",
        "  dfs, sync granularity, no preemption bound: 1 pass, 5 executions; "
        "1 exhausted, 0 NOT exhausted",
        "t.py::b[shard-0-of-3]: assert 1 == 2",
        "  replay: pytest t.py::b --x",
        "t.py::e[shard-1-of-2]: assert 3 == 4",
        "  replay: pytest t.py::e --x",
    ]


def test_shard_records_travel_from_workers_as_plain_data() -> None:
    worker = SessionSummary([_shard("t.py::a", 1, 2)])
    controller = SessionSummary([_shard("t.py::a", 0, 2)])
    controller.merge_data(worker.to_data())
    assert controller.explorations[1] == worker.explorations[0]
    assert "whole space covered" in controller.lines()[1]
