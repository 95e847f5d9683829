"""DeferredDeleterContract: the reference passes it, every seed-002b mutant fails it."""

from __future__ import annotations

import pytest
from contract_checks import check_mutant
from mutants import Mutant
from mutants.deferred_mutants import MUTANTS

from pytest_concurrency.demo.contracts_demo import ReferenceDeferredDeleter


class TestReferenceDeferredDeleter(ReferenceDeferredDeleter):
    """``reference_impl.DeferredDeleter`` passes every property (collected from here)."""


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_exactly_its_properties(mutant: Mutant) -> None:
    # a deletion that never comes is waited for 0.5 s, not the default 2 s: the reference's
    # replacement janitor deletes at once (its own test keeps the default)
    check_mutant(mutant, TestReferenceDeferredDeleter, real_timeout=0.5)
