"""The class form: operations as methods, subject and model as factories, run by pytest."""

from __future__ import annotations

import queue

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from subjects import CheckThenCreateRegistry, SequentialRegistry, total

import pytest_concurrency as pc
from pytest_concurrency.contracts import LinearizabilityContract, operation, run_contract


class TestStdlibQueue(LinearizabilityContract):
    hypothesis_settings = settings(max_examples=10, database=None, derandomize=True)

    def make_subject(self) -> queue.Queue[int]:
        return queue.Queue()

    @operation(st.integers(0, 3))
    def put(self, q: queue.Queue[int], item: int) -> None:
        q.put(item)

    @operation()
    def get(self, q: queue.Queue[int]) -> int | None:
        try:
            return q.get_nowait()
        except queue.Empty:
            return None


class RegistryContract(LinearizabilityContract):
    """Not collected (its name does not start with Test): run by hand below."""

    hypothesis_settings = settings(max_examples=30, database=None, derandomize=True)

    def make_subject(self) -> CheckThenCreateRegistry:
        return CheckThenCreateRegistry()

    def make_model(self) -> SequentialRegistry:
        return SequentialRegistry()

    @operation(st.sampled_from("ab"))
    def get_or_create(self, registry: CheckThenCreateRegistry, key: str) -> int:
        return registry.get_or_create(key)


def test_a_racy_subject_fails_the_contract_with_the_minimal_scenario() -> None:
    with pytest.raises(pc.NotLinearizable) as caught:
        RegistryContract().check()
    assert total(caught.value.operations) == 2


def test_the_contract_runs_outside_pytest() -> None:
    report = run_contract(RegistryContract)
    assert [result.name for result in report.results] == ["test_linearizable"]
    assert report.named("failed") == ("test_linearizable",)


def test_a_contract_without_operations_is_a_clear_error() -> None:
    class Empty(LinearizabilityContract):
        def make_subject(self) -> object:
            return object()

    with pytest.raises(TypeError, match="declares no operations"):
        Empty().check()


def test_operation_needs_strategies() -> None:
    with pytest.raises(TypeError, match="argument 1 must be a Hypothesis strategy"):
        operation(3)  # type: ignore[arg-type]
