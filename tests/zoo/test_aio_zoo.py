"""The asyncio exhibits: every bug found by every strategy, every twin proven, every replay exact.

Budgets are per strategy with a fixed seed, so the suite is deterministic. The
cancelled-semaphore bug needs a cancellation at one precise await, a change of
priority and a waiter that actually waited: pct (depth 3) finds it in hundreds
of schedules where random and dfs need tens, hence its larger budget.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from zoo_checks import exhausted, found_within

from pytest_concurrency.demo.zoo import ZooBug
from pytest_concurrency.demo.zoo.aio_zoo import AIO_ZOO, DEADLOCKS, options
from pytest_concurrency.world.api import explore, replay
from pytest_concurrency.world.report import Deadlock, InterleavingFailure

#: schedules each strategy may spend on each exhibit
BUDGET = {"random": 200, "pct": 200, "dfs": 200}
#: pct's budget for the cancellation bug (seed 1 needs about 800)
PCT_CANCEL_BUDGET = 1500


def _budget(bug: ZooBug, strategy: str) -> int:
    if strategy == "pct" and bug.module in DEADLOCKS:
        return PCT_CANCEL_BUDGET
    return BUDGET[strategy]


@pytest.mark.parametrize("strategy", sorted(BUDGET))
@pytest.mark.parametrize("bug", AIO_ZOO, ids=lambda bug: bug.module)
def test_every_strategy_finds_every_asyncio_bug(bug: ZooBug, strategy: str) -> None:
    failure = found_within(bug.load().buggy, strategy, _budget(bug, strategy), **options(bug))
    assert isinstance(failure, Deadlock) == (bug.module in DEADLOCKS)
    assert any(step.thread.startswith("task-") for step in failure.trace)


@pytest.mark.parametrize("bug", AIO_ZOO, ids=lambda bug: bug.module)
def test_every_fixed_twin_survives_exhaustive_dfs(bug: ZooBug) -> None:
    result = exhausted(bug.load().fixed, **options(bug))
    assert result.schedules_run > 1


@pytest.mark.parametrize("bug", AIO_ZOO, ids=lambda bug: bug.module)
def test_without_exploring_the_bug_stays_hidden(bug: ZooBug) -> None:
    # asyncio's own order (dfs's first, unguided schedule) passes: the bug needs another one
    result = explore(bug.load().buggy, strategy="dfs", preemption_bound=0, **options(bug))
    assert result.exhausted


def _found(bug: ZooBug) -> InterleavingFailure:
    with pytest.raises(InterleavingFailure) as info:
        explore(bug.load().buggy, strategy="random", runs=200, seed=1, **options(bug))
    return info.value


@pytest.mark.parametrize("bug", AIO_ZOO, ids=lambda bug: bug.module)
def test_a_failing_schedule_replays_exactly(bug: ZooBug) -> None:
    failure = _found(bug)
    for _ in range(20):
        with pytest.raises(InterleavingFailure) as again:
            replay(bug.load().buggy, failure.token)
        assert again.value.token == failure.token
        assert [step.op for step in again.value.trace] == [step.op for step in failure.trace]


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_tokens_are_the_same_in_another_process_with_another_hash_seed(hash_seed: str) -> None:
    tokens = {bug.module: _found(bug).token for bug in AIO_ZOO}
    code = (
        "from pytest_concurrency.demo.zoo.aio_zoo import AIO_ZOO, options\n"
        "from pytest_concurrency.world.api import explore\n"
        "from pytest_concurrency.world.report import InterleavingFailure\n"
        "for bug in AIO_ZOO:\n"
        "    try:\n"
        "        explore(bug.load().buggy, strategy='random', runs=200, seed=1, **options(bug))\n"
        "    except InterleavingFailure as failure:\n"
        "        print(bug.module, failure.token)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == [part for item in tokens.items() for part in item]
