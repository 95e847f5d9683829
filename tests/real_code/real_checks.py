"""What every real-library test checks: the default finds the race, the twin is proven.

Each library is traced by name (``trace=[the library, the test's own file]``):
installed packages are never traced by default, and the test's file holds the
threads' own accesses (a cached attribute read straight from an instance, say).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pytest_concurrency.demo.zoo.finer import start_and_join as run_threads
from pytest_concurrency.world.api import ExploreResult, explore
from pytest_concurrency.world.report import InterleavingFailure

__all__ = ["FIND_BUDGET", "found", "proven", "run_threads"]

#: executions the default may spend finding any of these races (each needs far fewer)
FIND_BUDGET = 200


def found(scenario: Callable[[], None], trace: Sequence[Any]) -> InterleavingFailure:
    """The default exploration's failure of ``scenario``: found with one preemption."""
    with pytest.raises(InterleavingFailure) as info:
        explore(scenario, trace=list(trace), runs=FIND_BUDGET)
    failure = info.value
    assert failure.strategy == "dpor"
    assert failure.preemptions == 1  # the race needs one thread switch, and no more
    assert "replayed 3/3" in str(failure)
    return failure


def proven(
    scenario: Callable[[], None], trace: Sequence[Any], *, races: str = "error"
) -> ExploreResult:
    """The default exploration of the twin: every class of interleavings passed, with no
    data race (two unordered accesses to one location, one a write) in any of them."""
    result = explore(scenario, trace=list(trace), races=races)
    assert (result.strategy, result.granularity, result.preemption_bound) == (
        "dpor",
        "memory",
        None,
    )
    assert result.exhausted, result.coverage
    return result
