"""The bug zoo: every bug found by every strategy within its budget; every twin proven.

Budgets are stated per strategy (``runs=``) with a fixed seed, so the suite is
deterministic; the figures in the comments are what this seed needs today.
"""

from __future__ import annotations

import pytest
from zoo_checks import exhausted, found_within

from pytest_concurrency.demo.zoo import ZOO, ZooBug, run_slot
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import Deadlock, InterleavingFailure

#: schedules each strategy may spend on each bug
BUDGET = {"random": 100, "pct": 500, "dfs": 200}
#: the bugs that show up as a deadlock rather than a failed assertion
DEADLOCKS = {"abba", "lost_wakeup", "turnstile"}


@pytest.mark.parametrize("strategy", sorted(BUDGET))
@pytest.mark.parametrize("bug", ZOO, ids=lambda bug: bug.module)
def test_every_strategy_finds_every_bug(bug: ZooBug, strategy: str) -> None:
    failure = found_within(bug.load().buggy, strategy, BUDGET[strategy], patch=bug.patch_targets())
    assert isinstance(failure, Deadlock) == (bug.module in DEADLOCKS)
    assert failure.token.startswith("pc1.")
    assert len(failure.trace) > 0


@pytest.mark.parametrize("bug", ZOO, ids=lambda bug: bug.module)
def test_every_fixed_twin_survives_exhaustive_dfs(bug: ZooBug) -> None:
    result = exhausted(bug.load().fixed, patch=bug.patch_targets())
    assert result.schedules_run > 1


def test_module_level_lock_hides_the_run_slot_bug_unless_patched() -> None:
    # the real module lock is no scheduling point: the check-then-act window is invisible
    result = explore(run_slot.buggy, strategy="dfs", preemption_bound=2)
    assert result.exhausted
    with pytest.raises(InterleavingFailure):
        explore(run_slot.buggy, strategy="dfs", preemption_bound=2, patch=run_slot)
