"""The finer zoo: bugs found only at line granularity or with timers as choices.

Each buggy scenario is found by every strategy within its stated budget (fixed
seed: the suite is deterministic) under its revealing options, and passes an
exhaustive dfs under the default ones -- the value of those options, shown.
Each fixed twin survives exhaustive dfs (bound 2) under the revealing options.
"""

from __future__ import annotations

import pytest

from pytest_concurrency.demo.zoo.finer import FINER_ZOO, FinerBug
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure

#: schedules each strategy may spend on each bug (seed 1 needs 1-20 today)
BUDGET = {"random": 50, "pct": 50, "dfs": 100}


def _name(bug: FinerBug) -> str:
    return bug.bug.module


@pytest.mark.parametrize("strategy", sorted(BUDGET))
@pytest.mark.parametrize("finer", FINER_ZOO, ids=_name)
def test_every_strategy_finds_every_bug_with_its_options(finer: FinerBug, strategy: str) -> None:
    bug = finer.bug
    with pytest.raises(InterleavingFailure) as info:
        explore(
            bug.load().buggy,
            strategy=strategy,
            runs=BUDGET[strategy],
            seed=1,
            patch=bug.patch_targets(),
            **finer.options(),
        )
    assert info.value.schedules_run <= BUDGET[strategy]
    assert isinstance(info.value.__cause__, AssertionError)


@pytest.mark.parametrize("finer", FINER_ZOO, ids=_name)
def test_no_bug_is_found_with_the_default_options(finer: FinerBug) -> None:
    bug = finer.bug
    result = explore(
        bug.load().buggy, strategy="dfs", preemption_bound=2, runs=5000, patch=bug.patch_targets()
    )
    assert result.exhausted


@pytest.mark.parametrize("finer", FINER_ZOO, ids=_name)
def test_every_fixed_twin_survives_exhaustive_dfs_with_its_options(finer: FinerBug) -> None:
    bug = finer.bug
    result = explore(
        bug.load().fixed,
        strategy="dfs",
        preemption_bound=2,
        runs=5000,
        patch=bug.patch_targets(),
        **finer.options(),
    )
    assert result.exhausted
    assert result.schedules_run > 1
