"""Public exceptions and warnings print, and pickle, under ``pytest_concurrency``.

A traceback or pytest's short summary names the class by its ``__module__``;
an internal module path there is noise and, at 80 columns, leaves no room for
the message. pytest-xdist pickles reports, so the public name must unpickle.
"""

from __future__ import annotations

import pickle
import traceback

import pytest

import pytest_concurrency
from pytest_concurrency.world.trace import Trace

PUBLIC_EXCEPTIONS = sorted(
    name
    for name in pytest_concurrency.__all__
    if isinstance(getattr(pytest_concurrency, name), type)
    and issubclass(getattr(pytest_concurrency, name), BaseException)
)


def test_the_public_exceptions_are_the_expected_ones() -> None:
    assert PUBLIC_EXCEPTIONS == [
        "DataRace",
        "DataRaceWarning",
        "Deadlock",
        "FakeClockWarning",
        "InterleavingFailure",
        "NondeterministicScenarioError",
        "NotExhaustedWarning",
        "NotLinearizable",
        "ReplayTokenError",
        "UncontrolledBlock",
    ]


def _instance(name: str) -> BaseException:
    cls = getattr(pytest_concurrency, name)
    if issubclass(cls, pytest_concurrency.InterleavingFailure):
        return cls(
            "two threads lost an update",
            token="pc1.AAAA",
            trace=Trace([]),
            strategy="dfs",
            seed=7,
            schedules_run=12,
        )
    return cls("two threads lost an update")


@pytest.mark.parametrize("name", PUBLIC_EXCEPTIONS)
def test_prints_under_its_public_name(name: str) -> None:
    error = _instance(name)
    assert type(error).__module__ == "pytest_concurrency"
    text = "".join(traceback.format_exception_only(type(error), error))
    assert text.startswith(f"pytest_concurrency.{name}: two threads lost an update")


@pytest.mark.parametrize("name", PUBLIC_EXCEPTIONS)
def test_pickles_round_trip(name: str) -> None:
    error = _instance(name)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    if isinstance(error, pytest_concurrency.InterleavingFailure):
        assert isinstance(copy, pytest_concurrency.InterleavingFailure)
        assert (copy.token, copy.strategy, copy.seed, copy.schedules_run) == (
            "pc1.AAAA",
            "dfs",
            7,
            12,
        )


def test_short_summary_at_80_columns_shows_the_message(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    # under CI pytest never shortens summary lines: this is about a developer's terminal
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    pytester.makepyfile(
        test_x="""
        import threading

        def test_counter(interleavings):
            def scenario():
                box = {"n": 0}

                def add():
                    value = box["n"]
                    threading.Lock().acquire()
                    box["n"] = value + 1

                threads = [threading.Thread(target=add) for _ in range(2)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert box["n"] == 2

            interleavings.explore(scenario, strategy="dfs")
        """
    )
    result = pytester.runpytest_subprocess("-rf")
    result.assert_outcomes(failed=1)
    summary = [line for line in result.outlines if line.startswith("FAILED test_x.py")]
    assert len(summary) == 1, result.outlines
    assert summary[0].startswith(
        "FAILED test_x.py::test_counter - pytest_concurrency.InterleavingFailure: "
    )
    # the message itself starts within the 80 columns
    assert len(summary[0]) <= 80
    assert len(summary[0]) > len(
        "FAILED test_x.py::test_counter - pytest_concurrency.InterleavingFailure: "
    )
