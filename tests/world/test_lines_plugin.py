"""granularity=, trace= and timers= through the interleavings marker and fixture."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

_GUARD = """
import threading

def check_then_set():
    items, made = {}, []
    def get():
        if "k" not in items:
            made.append(1)
            items["k"] = object()
    threads = [threading.Thread(target=get) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1, "made twice"
"""

_TESTS = """
import threading
import pytest
import guard

@pytest.mark.interleavings(strategy="dfs", granularity="line", trace=["guard"])
def test_marker_lines():
    guard.check_then_set()

@pytest.mark.interleavings(strategy="dfs")
def test_marker_sync():
    guard.check_then_set()

def test_fixture_lines(interleavings):
    interleavings.explore(guard.check_then_set, strategy="dfs", granularity="line", trace=[guard])

def test_fixture_timers(interleavings):
    def scenario():
        event = threading.Event()
        seen = []
        waiter = threading.Thread(target=lambda: seen.append(event.wait(timeout=5)))
        waiter.start()
        event.set()
        waiter.join()
        assert seen == [True], "timed out"
    interleavings.explore(scenario, strategy="dfs", timers="choice")

def test_fixture_bad_granularity(interleavings):
    interleavings.explore(guard.check_then_set, granularity="bytecode")
"""


def test_marker_and_fixture_take_the_options_and_line_tokens_replay(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(guard=_GUARD, test_it=_TESTS)
    result = pytester.runpytest_subprocess("-rA")
    result.assert_outcomes(passed=1, failed=4)
    output = result.stdout.str()
    assert "PASSED test_it.py::test_marker_sync" in output  # no line points: nothing found
    assert output.count("made twice") >= 2
    assert "timed out" in output
    assert "granularity must be one of 'sync', 'line', 'opcode', 'memory', got 'bytecode'" in output
    token = _token(output, "test_it.py::test_marker_lines")
    replayed = pytester.runpytest_subprocess(
        "test_it.py::test_marker_lines", f"--interleavings-replay={token}"
    )
    replayed.assert_outcomes(failed=1)
    assert "replayed from its token" in replayed.stdout.str()
    assert "made twice" in replayed.stdout.str()


def _token(output: str, node: str) -> str:
    match = re.search(
        rf"pytest {re.escape(node)} --interleavings-replay=(pc1\.[A-Za-z0-9_-]+)", output
    )
    assert match, output
    return match.group(1)
