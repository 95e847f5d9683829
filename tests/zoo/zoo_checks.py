"""The two checks every zoo module runs: a strategy finds the bug, dfs exhausts the twin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_concurrency.world.api import ExploreResult, explore
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.strategies import uses

#: dfs runs allowed to exhaust a bounded space (the largest zoo twin needs about 600)
EXHAUSTIVE_RUNS = 5000


def found_within(
    scenario: Callable[[], object], strategy: str, budget: int, **options: Any
) -> InterleavingFailure:
    """Explore ``scenario`` (seed 1 if the strategy reads one); the failure, within ``budget``."""
    seeded = {"seed": 1} if uses(strategy, "seed") else {}
    with pytest.raises(InterleavingFailure) as info:
        explore(scenario, strategy=strategy, runs=budget, **seeded, **options)
    assert info.value.schedules_run <= budget
    return info.value


def exhausted(scenario: Callable[[], object], **options: Any) -> ExploreResult:
    """Explore ``scenario`` with dfs (bound 2) and require that the space was covered."""
    result = explore(scenario, strategy="dfs", preemption_bound=2, runs=EXHAUSTIVE_RUNS, **options)
    assert result.exhausted
    return result
