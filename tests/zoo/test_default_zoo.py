"""Every exhibit under ``explore()``'s defaults: each bug found, each fixed twin proven.

Threads and asyncio tasks: the reduction at memory granularity finds every
bug -- the line-level ones too, with no option at all -- and proves every twin
with no preemption bound. A timer firing as a choice (``timers="choice"``) is
beyond the reduction for now: there the default explores with dfs
(preemption bound 2), and the result says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_concurrency.demo.zoo import ZOO, ZooBug
from pytest_concurrency.demo.zoo.aio_zoo import AIO_ZOO
from pytest_concurrency.demo.zoo.aio_zoo import options as aio_options
from pytest_concurrency.demo.zoo.finer import FINER_ZOO
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import Deadlock, InterleavingFailure

#: the exhibits whose bug is a deadlock rather than a failed assertion
DEADLOCKS = {"abba", "lost_wakeup", "turnstile", "aio_semaphore"}
#: executions the default may spend on finding any bug (the worst needs about 80 today)
FIND_BUDGET = 300

THREAD_EXHIBITS = [*ZOO, *(finer.bug for finer in FINER_ZOO)]


def _options(bug: ZooBug) -> dict[str, Any]:
    """What the exhibit needs beyond the defaults: its patch targets, timer choices,
    injected cancellations -- never a strategy or a granularity."""
    needed: dict[str, Any] = {"patch": bug.patch_targets(), **aio_options(bug)}
    for finer in FINER_ZOO:
        if finer.bug == bug and "timers" in finer.options():
            needed["timers"] = finer.options()["timers"]
    return needed


def _reduced(bug: ZooBug) -> bool:
    """True for the exhibits the reduction explores (not timers="choice")."""
    return "timers" not in _options(bug)


@pytest.mark.parametrize("bug", [*THREAD_EXHIBITS, *AIO_ZOO], ids=lambda bug: bug.module)
def test_the_default_finds_every_bug(bug: ZooBug) -> None:
    with pytest.raises(InterleavingFailure) as info:
        explore(bug.load().buggy, runs=FIND_BUDGET, **_options(bug))
    failure = info.value
    assert isinstance(failure, Deadlock) == (bug.module in DEADLOCKS)
    assert failure.strategy == ("dpor" if _reduced(bug) else "dfs")
    assert failure.schedules_run <= FIND_BUDGET
    assert "replayed 3/3" in str(failure)


@pytest.mark.parametrize("bug", [*THREAD_EXHIBITS, *AIO_ZOO], ids=lambda bug: bug.module)
def test_the_default_proves_every_fixed_twin(bug: ZooBug) -> None:
    # races="ignore": proven means every schedule passed; the exhibits' own bookkeeping
    # (results appended to a list from several threads) is not what they are about
    result = explore(bug.load().fixed, races="ignore", **_options(bug))
    assert result.exhausted, result.coverage
    if _reduced(bug):
        assert (result.strategy, result.granularity, result.preemption_bound) == (
            "dpor",
            "memory",
            None,
        )
    else:
        assert (result.strategy, result.preemption_bound) == ("dfs", 2)
