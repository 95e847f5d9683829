"""The pytest side: fixture, marker (+ its warning), options, the hook, replay from the CLI."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

_RACY = """
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
"""


def _token(output: str) -> str:
    match = re.search(r"--interleavings-replay=(pc1\.[A-Za-z0-9_-]+)", output)
    assert match, output
    return match.group(1)


def test_fixture_failure_calls_the_hook_and_prints_a_working_replay_command(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        SEEN = []
        def pytest_concurrency_interleaving_failure(item, failure):
            SEEN.append((item.name, failure.token, failure.strategy, failure.schedules_run))
            print("HOOK", item.name, failure.token, failure.strategy, failure.schedules_run)
        """
    )
    pytester.makepyfile(
        test_it=_RACY
        + """
def test_racy(interleavings):
    interleavings.explore(racy, strategy="random")

def test_fine(interleavings):
    result = interleavings.explore(lambda: None, strategy="pct")
    assert result.schedules_run == 7  # from --interleavings-runs
"""
    )
    result = pytester.runpytest_subprocess(
        "-s", "--interleavings-runs=7", "--interleavings-seed=3", "--junitxml=report.xml"
    )
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    token = _token(output)
    assert re.search(rf"HOOK test_racy {re.escape(token)} random \d", output)
    # the traceback shows the user's frames and the trace, not the harness's internals
    harness = ("world/api.py", "world/exploration.py", "world/replaying.py", "_wiring/")
    assert not [path for path in harness if path in output]
    # the token is on the test's report too, where CI tools read it
    report = (pytester.path / "report.xml").read_text()
    assert f'<property name="interleavings_replay_token" value="{token}"' in report
    assert "pytest test_it.py::test_racy --interleavings-replay=" in output
    assert "found by strategy 'random' (seed 3)" in output
    replayed = pytester.runpytest_subprocess(
        "test_it.py::test_racy", f"--interleavings-replay={token}"
    )
    replayed.assert_outcomes(failed=1)
    assert "replayed from its token" in replayed.stdout.str()
    assert _token(replayed.stdout.str()) == token


def test_marker_runs_the_body_per_schedule_and_warns_about_shared_fixtures(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_marked=_RACY
        + """
RUNS = []

@pytest.fixture
def shared_state():
    return {}

@pytest.mark.interleavings(strategy="dfs")
def test_body_is_the_scenario(shared_state):
    RUNS.append(1)
    racy()

@pytest.mark.interleavings(strategy="pct", runs=5, seed=1)
def test_counts_runs(request):
    RUNS.append(1)

def test_after():
    assert len(RUNS) >= 5

@pytest.mark.interleavings(bogus=1)
def test_bad_option():
    pass

@pytest.mark.interleavings(strategy="dfs")
def test_patch_inside_the_body(interleavings):
    from pytest_concurrency.demo.zoo import run_slot
    interleavings.patch(run_slot)  # for this run: the module lock becomes visible
    run_slot.buggy()
"""
    )
    result = pytester.runpytest("-W", "always")
    result.assert_outcomes(passed=2, failed=3)
    output = result.stdout.str()
    assert "InterleavingsFixtureWarning" in output
    assert "shared_state" in output
    assert "unknown option(s) bogus" in output
    assert "pytest test_marked.py::test_body_is_the_scenario --interleavings-replay=" in output
    assert "two runs were accepted at once" in output  # found only thanks to patch()


def test_marker_replay_and_foreign_token(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marked=_RACY
        + """
@pytest.mark.interleavings(strategy="random", seed=2)
def test_marked():
    racy()

def test_other(interleavings):
    interleavings.explore(lambda: None, strategy="pct", runs=2)
"""
    )
    first = pytester.runpytest("test_marked.py::test_marked")
    first.assert_outcomes(failed=1)
    token = _token(first.stdout.str())
    again = pytester.runpytest("test_marked.py::test_marked", f"--interleavings-replay={token}")
    again.assert_outcomes(failed=1)
    assert "replayed from its token" in again.stdout.str()
    foreign = pytester.runpytest("test_marked.py::test_other", f"--interleavings-replay={token}")
    # known to be test_marked's: refused before test_other runs
    foreign.assert_outcomes(errors=1)
    assert "this token was recorded by test_marked.py::test_marked" in foreign.stdout.str()


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--interleavings-runs=0"], "", "--interleavings-runs must be >= 1"),
        (["--interleavings-seed=-4"], "", "--interleavings-seed must be >= 0"),
        (["--interleavings-replay=nope"], "", "--interleavings-replay: not a pytest-concurrency"),
        ([], "interleavings_runs = many", "ini option interleavings_runs must be an integer"),
    ],
)
def test_bad_option_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_ini_defaults_are_used(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninterleavings_runs = 4\ninterleavings_seed = 9\n")
    pytester.makepyfile(
        test_x="""
def test_x(interleavings):
    result = interleavings.explore(lambda: None, strategy="random")
    assert (result.schedules_run, result.seed) == (4, 9)
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.inner_plugins("timeout")
def test_pytest_timeout_still_stops_an_exploration_and_everything_is_restored(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_slow="""
import threading, time
from pytest_concurrency.world.api import checkpoint

def endless():
    t = threading.Thread(target=lambda: [checkpoint() for _ in range(1000)])
    t.start()
    t.join()

def test_slow(interleavings):
    interleavings.explore(endless, strategy="random", runs=None, time_budget=600)

def test_after():
    assert type(threading.Lock).__name__ != "_Factory"  # the real factory is back
    assert time.sleep.__module__ == "time"
    assert threading.active_count() == 1
"""
    )
    result = pytester.runpytest_subprocess("--timeout=2", "--timeout-method=signal")
    result.assert_outcomes(passed=1, failed=1)
    assert "Timeout" in result.stdout.str()
