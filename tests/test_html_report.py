"""A failure's HTML page: its data, its escaping, and the files --interleavings-report writes."""

from __future__ import annotations

import json
import pickle
import re
import threading

import pytest

from pytest_concurrency import explore, spawn
from pytest_concurrency.world import html_report
from pytest_concurrency.world.report import Deadlock, InterleavingFailure, WaitEdge
from pytest_concurrency.world.trace import Trace, TraceStep

pytest_plugins = ["pytester"]


def _deadlock() -> None:
    a, b = threading.Lock(), threading.Lock()

    def one() -> None:
        with a, b:
            pass

    def two() -> None:
        with b, a:
            pass

    first, second = spawn(one), spawn(two)
    first.join()
    second.join()


def _found_deadlock() -> Deadlock:
    with pytest.raises(Deadlock) as caught:
        explore(_deadlock, strategy="dfs")
    return caught.value


def _embedded(page: str) -> dict[str, object]:
    match = re.search(
        rf'<script type="application/json" id="{html_report.DATA_ID}">(.*?)</script>', page, re.S
    )
    assert match, page[:500]
    data = json.loads(match.group(1))
    assert isinstance(data, dict)
    return data


def test_a_deadlock_carries_its_wait_for_graph_and_replay_command() -> None:
    failure = _found_deadlock()
    cycle = [edge for edge in failure.wait_for if edge.in_cycle]
    assert {(e.thread, e.holder) for e in cycle} == {
        ("T1 (one)", "T2 (two)"),
        ("T2 (two)", "T1 (one)"),
    }
    assert all(e.op == "acquire" and e.resource.startswith("Lock#") for e in cycle)
    # the main thread joins T1: waiting, but not part of the cycle
    assert [(e.thread, e.op, e.in_cycle) for e in failure.wait_for if not e.in_cycle] == [
        ("scenario", "join", False)
    ]
    assert failure.command.startswith("pytest_concurrency.replay(") and failure.token in (
        failure.command
    )
    assert str(failure).endswith(failure.command)


def test_the_structured_attributes_survive_pickling() -> None:
    failure = _found_deadlock()
    copy = pickle.loads(pickle.dumps(failure))
    assert type(copy) is Deadlock
    assert copy.wait_for == failure.wait_for and copy.command == failure.command
    assert str(copy) == str(failure)


def test_the_page_has_a_lane_per_thread_and_every_step_in_its_data() -> None:
    failure = _found_deadlock()
    page = html_report.render(failure, title="tests/test_x.py::test_deadlock")
    data = _embedded(page)
    assert data == html_report.failure_data(failure, title="tests/test_x.py::test_deadlock")
    assert data["threads"] == ["scenario", "T1 (one)", "T2 (two)"]
    assert len(data["steps"]) == len(failure.trace)  # type: ignore[arg-type]
    assert data["kind"] == "Deadlock"
    # readable without the script too: message, trace, command as escaped text
    assert html_report.html.escape(failure.command) in page
    assert "trace of the failing schedule" in page
    assert "<link" not in page and "src=" not in page  # nothing loaded from anywhere


def test_user_strings_cannot_break_out_of_the_page() -> None:
    hostile = '</script><script>alert("x")</script><b>&amp;'
    failure = InterleavingFailure(
        f"assert {hostile}",
        token="pc1.x",
        trace=Trace([TraceStep(1, hostile, "acquire", hostile, f"{hostile}:3", note=hostile)]),
        strategy="pct",
        seed=1,
        schedules_run=2,
    )
    failure.command = f"pytest '{hostile}'"
    failure.wait_for = (WaitEdge(hostile, "acquire", hostile, hostile, True),)
    page = html_report.render(failure, title=hostile)
    assert "<b>" not in page
    assert 'alert("x")' not in page.replace("&quot;", "")
    # the only script elements are the page's own three
    assert page.count("<script") == 3 and page.count("</script>") == 3
    data = _embedded(page)
    assert data["title"] == hostile and data["threads"] == [hostile]


def test_file_stems_are_safe_and_bounded() -> None:
    assert (
        html_report.file_stem("tests/test_x.py::test_y[1-a b]") == "tests_test_x.py__test_y_1-a_b"
    )
    assert html_report.file_stem("../../etc/passwd") == "etc_passwd"
    assert html_report.file_stem("::") == "failure"
    assert len(html_report.file_stem("x" * 500)) == html_report.NAME_LIMIT


_TESTS = """
import threading
import pytest
from pytest_concurrency import spawn

def _deadlock():
    a, b = threading.Lock(), threading.Lock()
    def one():
        with a, b:
            pass
    def two():
        with b, a:
            pass
    first, second = spawn(one), spawn(two)
    first.join()
    second.join()

@pytest.mark.interleavings(strategy="dfs")
@pytest.mark.parametrize("n", [1])
def test_marked(n):
    _deadlock()

def test_twice(interleavings):
    for _ in range(2):
        with pytest.raises(AssertionError):
            interleavings.explore(_deadlock, strategy="dfs")

def test_fine(interleavings):
    interleavings.explore(lambda: None, strategy="pct", runs=3)
"""


def test_the_option_writes_one_page_per_failing_exploration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "--interleavings-report=out")
    result.assert_outcomes(passed=2, failed=1)
    pages = sorted(path.name for path in (pytester.path / "out").iterdir())
    assert pages == [
        "test_it.py__test_marked_1.html",
        "test_it.py__test_twice-2.html",
        "test_it.py__test_twice.html",
    ]
    page = (pytester.path / "out" / "test_it.py__test_marked_1.html").read_text()
    command = "pytest 'test_it.py::test_marked[1]' --interleavings-replay=pc1."
    assert html_report.html.escape(command) in page


def test_the_ini_mirror_is_relative_to_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninterleavings_report = pages\n")
    pytester.makepyfile(test_it=_TESTS)
    sub = pytester.mkdir("sub")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(sub)
        result = pytester.runpytest_inprocess(
            "-p", "no:randomly", str(pytester.path / "test_it.py") + "::test_marked"
        )
    result.assert_outcomes(failed=1)
    assert [p.name for p in (pytester.path / "pages").iterdir()] == [
        "test_it.py__test_marked_1.html"
    ]


def test_no_option_no_page(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-k", "marked")
    result.assert_outcomes(failed=1)
    assert not list(pytester.path.glob("**/*.html"))


def test_a_report_path_that_is_a_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    (pytester.path / "taken").write_text("")
    result = pytester.runpytest_inprocess("--interleavings-report=taken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--interleavings-report: *taken exists and is not a directory*"])


def test_a_failing_replay_gets_its_page_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=_TESTS)
    first = pytester.runpytest_inprocess("-p", "no:randomly", "-k", "marked")
    match = re.search(r"--interleavings-replay=(pc1\.\S+)", first.stdout.str())
    assert match, first.stdout.str()
    result = pytester.runpytest_inprocess(
        "test_it.py::test_marked",
        f"--interleavings-replay={match.group(1)}",
        "--interleavings-report=out",
    )
    result.assert_outcomes(failed=1)
    page = (pytester.path / "out" / "test_it.py__test_marked_1.html").read_text()
    assert _embedded(page)["strategy"] == "replay"
    assert "replayed from its token" in page


def test_an_asyncio_deadlock_gives_each_task_and_what_it_awaits() -> None:
    import asyncio

    async def scenario() -> None:
        a, b = asyncio.Lock(), asyncio.Lock()

        async def one() -> None:
            async with a:
                await asyncio.sleep(0)
                async with b:
                    pass

        async def two() -> None:
            async with b:
                await asyncio.sleep(0)
                async with a:
                    pass

        await asyncio.gather(one(), two())

    with pytest.raises(Deadlock) as caught:
        explore(scenario, strategy="dfs")
    edges = {(e.thread, e.op, e.resource) for e in caught.value.wait_for}
    assert ("task-2 (one)", "await", "asyncio.Lock.acquire") in edges
    assert ("task-3 (two)", "await", "asyncio.Lock.acquire") in edges
    assert not any(e.resource.startswith("asyncio loop") for e in caught.value.wait_for)
