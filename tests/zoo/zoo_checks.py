"""The two checks every zoo module runs: a strategy finds the bug, dfs exhausts the twin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_concurrency.world.api import ExploreResult, explore
from pytest_concurrency.world.report import InterleavingFailure

#: dfs runs allowed to exhaust a bounded space (the largest zoo twin needs about 600)
EXHAUSTIVE_RUNS = 5000


def found_within(
    scenario: Callable[[], object], strategy: str, budget: int, **options: Any
) -> InterleavingFailure:
    """Explore ``scenario`` with seed 1; the failure, which must come within ``budget``."""
    with pytest.raises(InterleavingFailure) as info:
        explore(scenario, strategy=strategy, runs=budget, seed=1, **options)
    assert info.value.schedules_run <= budget
    return info.value


def exhausted(scenario: Callable[[], object], **options: Any) -> ExploreResult:
    """Explore ``scenario`` with dfs (bound 2) and require that the space was covered."""
    result = explore(scenario, strategy="dfs", preemption_bound=2, runs=EXHAUSTIVE_RUNS, **options)
    assert result.exhausted
    return result
