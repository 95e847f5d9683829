"""SingleFlightContract: the reference passes it, every seed-000 mutant fails it."""

from __future__ import annotations

import pytest
from contract_checks import check_mutant
from mutants import Mutant
from mutants.single_flight_mutants import MUTANTS

from pytest_concurrency.demo.contracts_demo import ReferenceSingleFlight


class TestReferenceSingleFlight(ReferenceSingleFlight):
    """``reference_impl.SingleFlight`` passes every property (collected from here)."""


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_exactly_its_properties(mutant: Mutant) -> None:
    check_mutant(mutant, TestReferenceSingleFlight)
