"""What every contract shares: collection, errors a downstream user can make, budgets, leaks.

Runs through pytest itself use ``runpytest_subprocess``: explorations patch
``threading`` and ``time`` process-wide.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import pytest

from pytest_concurrency.contracts import (
    Contract,
    ExplorationBudgetError,
    SingleFlightContract,
    SubjectError,
    WorkerPoolContract,
    run_contract,
)
from pytest_concurrency.demo.contracts_demo import ReferenceRunGuard, ReferenceSingleFlight
from reference_impl import RunGuard, SingleFlight

NO_HYPOTHESIS = ("-p", "no:hypothesispytest")

DOWNSTREAM = """
from pytest_concurrency.contracts import SingleFlightContract
from reference_impl import SingleFlight


class TestMyFlight(SingleFlightContract):
    def make_subject(self):
        return SingleFlight()


class TestForgotMakeSubject(SingleFlightContract):
    pass


class TestOnlyOneSchedule(SingleFlightContract):
    max_schedules = 1

    def make_subject(self):
        return SingleFlight()
"""

MUTANT = """
from pytest_concurrency.contracts import SingleFlightContract


class EveryCallerRuns:
    def do(self, key, fn):
        return fn()


class TestBuggyFlight(SingleFlightContract):
    def make_subject(self):
        return EveryCallerRuns()
"""


def test_a_downstream_subclass_is_collected_and_the_bases_are_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\npython_classes = Test* *Contract\n")
    pytester.makepyfile(test_downstream=DOWNSTREAM)
    result = pytester.runpytest_subprocess("-v", *NO_HYPOTHESIS)
    properties = SingleFlightContract.properties()
    result.assert_outcomes(passed=len(properties), failed=2 * len(properties))
    for name in properties:
        result.stdout.fnmatch_lines([f"*TestMyFlight::{name} PASSED*"])
    assert "SingleFlightContract::" not in result.stdout.str()  # imported, never collected
    result.stdout.fnmatch_lines(
        [
            "*NotImplementedError: TestForgotMakeSubject must override make_subject(self) to "
            "return a new single flight with do(key, fn) (see SingleFlightContract)*"
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ExplorationBudgetError: TestOnlyOneSchedule: dpor, memory granularity, no preemption "
            "bound: NOT exhausted*"
        ]
    )


def test_a_failing_property_names_itself_and_replays_from_its_token(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_buggy=MUTANT)
    result = pytester.runpytest_subprocess(*NO_HYPOTHESIS)
    result.assert_outcomes(failed=2, passed=2, skipped=1)
    output = result.stdout.str()
    assert "test_overlapping_callers_share_one_call" in output
    assert "fn ran 2 times for one key while 2 callers overlapped" in output
    command = re.search(
        r"pytest (test_buggy\.py::TestBuggyFlight::test_overlapping_callers_share_one_call) "
        r"--interleavings-replay=(pc1\.\S+)",
        output,
    )
    assert command is not None, output
    replayed = pytester.runpytest_subprocess(
        command.group(1), f"--interleavings-replay={command.group(2)}", *NO_HYPOTHESIS
    )
    replayed.assert_outcomes(failed=1)
    replayed.stdout.fnmatch_lines(["*fn ran 2 times for one key*", "*replayed from its token*"])


class ReturnsNone(ReferenceSingleFlight):
    def make_subject(self) -> Any:
        return None


class ReturnsWrongThing(ReferenceSingleFlight):
    def make_subject(self) -> Any:
        return object()


@pytest.mark.parametrize(
    ("contract", "message"),
    [
        (ReturnsNone, "ReturnsNone.make_subject() returned None; it must return a new single"),
        (ReturnsWrongThing, "returned <object object at 0x"),
    ],
)
def test_a_bad_make_subject_result_is_a_clear_error(contract: type[Contract], message: str) -> None:
    report = run_contract(contract, properties=["test_overlapping_callers_share_one_call"])
    (result,) = report.results
    assert result.outcome == "error"
    assert isinstance(result.exception, SubjectError)
    assert message in result.message
    assert "do" in result.message and "trace" not in result.message


def test_run_contract_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="SingleFlightContract does not define make_subject"):
        run_contract(SingleFlightContract)
    with pytest.raises(TypeError, match="contract must be a Contract subclass"):
        run_contract(SingleFlight)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'test_nope' not in ReferenceSingleFlight; valid: "):
        run_contract(ReferenceSingleFlight, properties=["test_nope"])


def test_properties_are_listed_in_definition_order_with_their_descriptions() -> None:
    names = ReferenceSingleFlight.properties()
    assert names[0] == "test_overlapping_callers_share_one_call"
    assert names[-1] == "test_registry_returns_to_baseline"
    assert ReferenceSingleFlight.describe(names[0]).startswith("Callers that overlap")
    assert ReferenceSingleFlight.subject_is_defined()
    assert not SingleFlightContract.subject_is_defined()


def test_an_exhaustive_exploration_over_budget_is_an_error_not_a_violation() -> None:
    class Tight(ReferenceSingleFlight):
        max_schedules = 2

    report = run_contract(Tight, properties=["test_different_keys_run_in_parallel"])
    (result,) = report.results
    assert result.outcome == "error"
    assert isinstance(result.exception, ExplorationBudgetError)
    assert "raise max_schedules or set (lower) a preemption_bound" in result.message
    assert "dpor, memory granularity, no preemption bound: NOT exhausted" in result.message


class Unregistered:
    """A flight without lock_count or in_flight: the registry property cannot be checked."""

    def __init__(self) -> None:
        self._flight = SingleFlight()

    def do(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        return self._flight.do(key, fn)


def test_the_registry_property_is_skipped_when_the_subject_has_no_counter() -> None:
    class Opaque(ReferenceSingleFlight):
        def make_subject(self) -> Any:
            return Unregistered()

    report = run_contract(Opaque)
    assert report.ok
    assert report.named("skipped") == ("test_registry_returns_to_baseline",)
    skipped = report.results[-1]
    assert "override registry_size()" in skipped.message


@pytest.fixture
def stop_leaked_threads() -> Iterator[threading.Event]:
    stop = threading.Event()
    yield stop
    stop.set()


def test_a_property_that_leaks_a_thread_fails_with_the_leak_report(
    stop_leaked_threads: threading.Event,
) -> None:
    def leaky_guard(dedup_window: float, max_run_seconds: float) -> RunGuard:
        threading.Thread(target=stop_leaked_threads.wait, name="watchdog", daemon=True).start()
        return RunGuard(dedup_window, max_run_seconds)

    class Leaky(ReferenceRunGuard):
        leak_grace = 0.05

        def make_subject(self, dedup_window: float, max_run_seconds: float) -> Any:
            return leaky_guard(dedup_window, max_run_seconds)

    report = run_contract(Leaky, properties=["test_time_is_monotonic_not_wall_clock"])
    (result,) = report.results
    assert result.outcome == "failed"
    assert "Leaky: the subject leaked during this property" in result.message
    assert "thread 'watchdog'" in result.message

    class Unchecked(Leaky):
        leak_kinds = ""

    assert run_contract(Unchecked, properties=["test_time_is_monotonic_not_wall_clock"]).ok


def test_worker_states_must_name_every_state() -> None:
    class Partial(WorkerPoolContract):
        worker_states = {"new": 1, "running": 2}

        def make_subject(self, factory: Callable[[Any], Any], per_key: int) -> Any:
            raise AssertionError("never built")

    report = run_contract(Partial, properties=["test_idle_running_workers_are_reaped"])
    assert report.results[0].outcome == "error"
    assert isinstance(report.results[0].exception, SubjectError)
    assert (
        "Partial.worker_states must map new, running, closed, dead; missing ['closed', 'dead']"
        in report.results[0].message
    )


def test_the_report_lists_each_property_then_each_failure() -> None:
    class Broken(ReferenceSingleFlight):
        def make_subject(self) -> Any:
            return object()

    text = run_contract(Broken, properties=["test_a_later_call_runs_again"]).format()
    assert text.startswith("Broken: 0/1 properties hold\n  ERROR   test_a_later_call_runs_again")
    assert "-- test_a_later_call_runs_again: A call that starts after the previous" in text


def test_run_contract_can_stop_at_the_first_failing_property() -> None:
    class Forgetful(ReferenceSingleFlight):
        def make_subject(self) -> Any:
            return EveryCallerRuns()

    report = run_contract(Forgetful, stop_on_failure=True)
    assert [r.name for r in report.results] == ["test_overlapping_callers_share_one_call"]
    assert report.failed == ("test_overlapping_callers_share_one_call",)
    assert report.results[0].token.startswith("pc1.")
    assert not report.ok


class EveryCallerRuns:
    def do(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        return fn()


def test_a_property_added_by_a_subclass_may_explore_with_pct() -> None:
    class WithExtra(ReferenceSingleFlight):
        pct_runs = 7
        explore_seed = 3

        def test_two_keys_at_once(self) -> None:
            def scenario() -> None:
                flight = self.subject()
                assert flight.do("a", lambda: 1) + flight.do("b", lambda: 2) == 3

            exploration = self.explore(scenario, exhaustive=False)
            assert (exploration.strategy, exploration.schedules) == ("pct", 7)

    report = run_contract(WithExtra, properties=["test_two_keys_at_once"])
    assert report.ok, report.format()
    assert report.results[0].schedules == 7


def test_for_subject_binds_a_factory_and_overrides_attributes() -> None:
    bound = SingleFlightContract.for_subject(SingleFlight, max_schedules=77)
    assert bound.__name__ == "SingleFlight" and bound.max_schedules == 77
    assert bound.subject_is_defined() and not SingleFlightContract.subject_is_defined()
    assert bound.__test__  # collected if a test module names it Test*
    assert run_contract(bound, properties=["test_a_later_call_runs_again"]).ok
