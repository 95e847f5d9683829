"""WorkerPoolContract: the reference passes it, every seed-004 mutant fails it."""

from __future__ import annotations

import pytest
from contract_checks import check_mutant
from mutants import Mutant
from mutants.worker_pool_mutants import MUTANTS

from pytest_concurrency.demo.contracts_demo import ReferenceWorkerPool


class TestReferenceWorkerPool(ReferenceWorkerPool):
    """``reference_impl.WorkerPool`` passes every property (collected from here)."""


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_exactly_its_properties(mutant: Mutant) -> None:
    check_mutant(mutant, TestReferenceWorkerPool)
