"""RunGuardContract: the reference passes it, every seed-003 mutant fails it."""

from __future__ import annotations

import pytest
from contract_checks import check_mutant
from mutants import Mutant
from mutants.run_guard_mutants import MUTANTS

from pytest_concurrency.demo.contracts_demo import ReferenceRunGuard


class TestReferenceRunGuard(ReferenceRunGuard):
    """``reference_impl.RunGuard`` passes every property (collected from here)."""


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_exactly_its_properties(mutant: Mutant) -> None:
    check_mutant(mutant, TestReferenceRunGuard)
