"""WorkerPoolContract: the reference passes it, every seed-004 mutant fails it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from contract_checks import check_mutant
from mutants import Mutant
from mutants.worker_pool_mutants import MUTANTS

from pytest_concurrency.contracts import WorkerPoolContract
from pytest_concurrency.demo.contracts_demo import ReferenceWorkerPool
from reference_impl import WorkerPool


class TestReferenceWorkerPool(ReferenceWorkerPool):
    """``reference_impl.WorkerPool`` passes every property (collected from here)."""


class TestTheObviousSubclass(WorkerPoolContract):
    """The subclass a user writes first, with no other attribute, passes every property."""

    def make_subject(self, factory: Callable[[Any], Any], per_key: int) -> Any:
        return WorkerPool(factory, per_key=per_key)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_exactly_its_properties(mutant: Mutant) -> None:
    check_mutant(mutant, TestTheObviousSubclass)
