"""Demo section: the interleaving explorer on the bug zoo.

For each bug: the first strategy (pct, then random, then dfs) that finds it,
how many schedules and how long it took, the trace of the failing schedule and
its replay token; then the fixed twin explored exhaustively (dfs, preemption
bound 2) without a failure.
"""

from __future__ import annotations

from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.demo.zoo import ZOO, ZooBug
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.strategies import uses

TITLE = "Interleaving explorer: the bug zoo"

#: tried in this order; the first to find the bug is reported
_STRATEGIES = ("pct", "random", "dfs")
_RUNS = 500


def _hunt(bug: ZooBug) -> Outcome:
    module = bug.load()
    spent = 0.0
    for strategy in _STRATEGIES:
        started = _realtime.perf_counter()
        seeded: dict[str, Any] = {"seed": 1} if uses(strategy, "seed") else {}
        try:
            explore(
                module.buggy,
                strategy=strategy,
                runs=_RUNS,
                patch=bug.patch_targets(),
                **seeded,
            )
        except InterleavingFailure as failure:
            spent += _realtime.perf_counter() - started
            summary = str(failure).splitlines()[0]
            return Outcome(
                name=f"{bug.name} ({bug.origin})",
                expected="bug found",
                observed=f"found by {strategy} after {failure.schedules_run} schedule(s)",
                ok=True,
                seconds=spent,
                detail=(
                    f"{summary}\n{failure.trace.format(limit=40)}\nreplay token: {failure.token}"
                ),
            )
        spent += _realtime.perf_counter() - started
    return Outcome(
        name=f"{bug.name} ({bug.origin})",
        expected="bug found",
        observed=f"not found in {_RUNS} schedules per strategy",
        ok=False,
        seconds=spent,
    )


def _prove(bug: ZooBug) -> Outcome:
    started = _realtime.perf_counter()
    result = explore(
        bug.load().fixed, strategy="dfs", preemption_bound=2, runs=5000, patch=bug.patch_targets()
    )
    return Outcome(
        name=f"{bug.name}: fixed twin",
        expected="no failure, space exhausted",
        observed=f"{result.schedules_run} schedules, exhausted={result.exhausted}",
        ok=result.exhausted,
        seconds=_realtime.perf_counter() - started,
    )


def run() -> list[Outcome]:
    outcomes: list[Outcome] = []
    for bug in ZOO:
        outcomes.append(_hunt(bug))
        outcomes.append(_prove(bug))
    return outcomes
