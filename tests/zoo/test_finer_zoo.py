"""The finer zoo: bugs found only at line granularity or with timers as choices.

Each buggy scenario is found by every strategy within its stated budget (fixed
seed: the suite is deterministic) under its revealing options, and passes an
exhaustive dfs under the default ones -- the value of those options, shown.
Each fixed twin survives exhaustive dfs (bound 2) under the revealing options.
"""

from __future__ import annotations

import pytest
from zoo_checks import exhausted, found_within

from pytest_concurrency.demo.zoo.finer import FINER_ZOO, FinerBug

#: schedules each strategy may spend on each bug (seed 1 needs 1-20 today)
BUDGET = {"random": 50, "pct": 50, "dfs": 100}


def _name(bug: FinerBug) -> str:
    return bug.bug.module


@pytest.mark.parametrize("strategy", sorted(BUDGET))
@pytest.mark.parametrize("finer", FINER_ZOO, ids=_name)
def test_every_strategy_finds_every_bug_with_its_options(finer: FinerBug, strategy: str) -> None:
    bug = finer.bug
    failure = found_within(
        bug.load().buggy,
        strategy,
        BUDGET[strategy],
        patch=bug.patch_targets(),
        **finer.options(),
    )
    assert isinstance(failure.__cause__, AssertionError)


@pytest.mark.parametrize("finer", FINER_ZOO, ids=_name)
def test_no_bug_is_found_with_the_default_options(finer: FinerBug) -> None:
    exhausted(finer.bug.load().buggy, patch=finer.bug.patch_targets())


@pytest.mark.parametrize("finer", FINER_ZOO, ids=_name)
def test_every_fixed_twin_survives_exhaustive_dfs_with_its_options(finer: FinerBug) -> None:
    bug = finer.bug
    result = exhausted(bug.load().fixed, patch=bug.patch_targets(), **finer.options())
    assert result.schedules_run > 1
