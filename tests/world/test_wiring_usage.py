"""The wiring refuses misuse before exploring, and its replay commands select the test.

Marker plus fixture exploration in one body is a usage error, not a finding; a
replay token known to belong to another test is refused before the test body
runs; under pytest-repeat the printed command includes what makes the repeated
node id exist.
"""

from __future__ import annotations

import re
import shlex

import pytest

pytest_plugins = ["pytester"]


def _tokens(output: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"--interleavings-replay=(pc1\.[A-Za-z0-9_-]+)", output)))


def _flat(result: pytest.RunResult) -> str:
    return " ".join(result.stdout.str().split())


def test_marker_and_fixture_exploration_in_one_body_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_both="""
import pytest

@pytest.mark.interleavings(strategy="dfs")
def test_both(interleavings):
    interleavings.explore(lambda: None)

@pytest.mark.interleavings(strategy="dfs")
def test_both_caught(interleavings):
    with pytest.raises(RuntimeError):  # swallowing the refusal does not make it pass
        interleavings.replay(lambda: None, "pc1.AAAAAAAAAA")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    output = _flat(result)
    assert (
        "test_both.py::test_both: use @pytest.mark.interleavings or interleavings.explore(), "
        "not both" in output
    )
    assert "test_both.py::test_both_caught: use @pytest.mark.interleavings or " in output
    assert "interleavings.replay(), not both" in output
    assert "InterleavingFailure" not in output
    assert "--interleavings-replay=" not in output


_TWO_TESTS = """
import threading
import pytest
from pytest_concurrency.world.api import checkpoint

def racy():
    box = {"n": 0}
    def add():
        value = box["n"]
        checkpoint("between")
        box["n"] = value + 1
    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box["n"] == 2, box

@pytest.mark.interleavings(strategy="random", seed=2)
def test_marked():
    racy()

@pytest.mark.interleavings(strategy="random", seed=2)
def test_other_marked():
    print("BODY RAN")
    racy()

def test_nested(interleavings):
    def scenario():
        racy()
    interleavings.explore(scenario, strategy="random", seed=2)

def test_fixture(interleavings):
    def scenario():
        print("SCENARIO RAN")
    interleavings.explore(scenario, strategy="pct", runs=3)

def test_shared(interleavings):
    print("SHARED RAN")
    interleavings.explore(racy, strategy="random", seed=2)
"""


def test_a_token_of_another_test_is_refused_before_the_test_runs(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_tokens=_TWO_TESTS)
    marked = _tokens(pytester.runpytest("test_tokens.py::test_marked").stdout.str())[0]
    nested = _tokens(pytester.runpytest("test_tokens.py::test_nested").stdout.str())[0]

    # a marker test's scenario is its body: another test's token is refused at setup
    other = pytester.runpytest(
        "-s", "test_tokens.py::test_other_marked", f"--interleavings-replay={marked}"
    )
    other.assert_outcomes(errors=1)
    output = _flat(other)
    assert (
        "--interleavings-replay: this token was recorded by test_tokens.py::test_marked, "
        "not by test_tokens.py::test_other_marked, so nothing was run: replay it there (pytest "
        f"test_tokens.py::test_marked --interleavings-replay={marked})" in output
    )
    assert "BODY RAN" not in output

    # a fixture test, and a token recorded for a scenario nested in another test
    fixture = pytester.runpytest(
        "-s", "test_tokens.py::test_fixture", f"--interleavings-replay={nested}"
    )
    fixture.assert_outcomes(errors=1)
    output = _flat(fixture)
    assert "this token was recorded by test_tokens.py::test_nested, not by" in output
    assert "SCENARIO RAN" not in output

    # the owners still replay their own tokens
    for test, token in (("test_marked", marked), ("test_nested", nested)):
        again = pytester.runpytest(f"test_tokens.py::{test}", f"--interleavings-replay={token}")
        again.assert_outcomes(failed=1)
        assert "replayed from its token" in again.stdout.str()


def test_a_token_of_an_unknown_scenario_is_still_refused_after_the_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_tokens=_TWO_TESTS)
    shared = _tokens(pytester.runpytest("test_tokens.py::test_shared").stdout.str())[0]
    # ``racy`` is a module-level scenario any test may explore: not refused up front
    result = pytester.runpytest(
        "-s", "test_tokens.py::test_fixture", f"--interleavings-replay={shared}"
    )
    result.assert_outcomes(passed=1, errors=1)
    assert "SCENARIO RAN" in result.stdout.str()
    assert "was not recorded by any exploration" in result.stdout.str()


_REPEATED = (
    _TWO_TESTS
    + """
@pytest.mark.repeat(2)
@pytest.mark.interleavings(strategy="random", seed=2)
def test_marked_twice():
    racy()
"""
)


def test_the_replay_command_selects_a_test_repeated_by_pytest_repeat(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pytest_repeat")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = ["-p", "pytest_concurrency", "-p", "pytest_repeat"]
    pytester.makepyfile(test_tokens=_REPEATED)
    result = pytester.runpytest_subprocess(
        *plugins, "--count=3", "test_tokens.py::test_marked", "test_tokens.py::test_marked_twice"
    )
    result.assert_outcomes(failed=5)
    output = result.stdout.str()
    commands = re.findall(
        r"^\s*(pytest \S+(?: --count=\d+)? --interleavings-replay=\S+)$", output, re.M
    )
    assert "pytest 'test_tokens.py::test_marked[2-3]' --count=3 --interleavings-replay=" in output
    # the repeat marker makes its ids without --count
    assert "pytest 'test_tokens.py::test_marked_twice[1-2]' --interleavings-replay=" in output
    chosen = next(command for command in commands if "test_marked[2-3]" in command)
    replayed = pytester.runpytest_subprocess(*plugins, *shlex.split(chosen)[1:])
    replayed.assert_outcomes(failed=1)  # exactly the repeated item the command names
    assert "test_tokens.py::test_marked[2-3]" in replayed.stdout.str()
    assert "replayed from its token" in replayed.stdout.str()
