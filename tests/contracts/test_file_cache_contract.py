"""FileCacheContract: the reference passes it, every seed-000 disk-cache mutant fails it."""

from __future__ import annotations

import pytest
from contract_checks import check_mutant
from mutants import Mutant
from mutants.file_cache_mutants import MUTANTS

from pytest_concurrency.demo.contracts_demo import ReferenceFileCache


class TestReferenceFileCache(ReferenceFileCache):
    """``reference_impl.FileCache`` passes every property (collected from here)."""


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_exactly_its_properties(mutant: Mutant) -> None:
    check_mutant(mutant, TestReferenceFileCache)
