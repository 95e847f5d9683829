"""Demo section: line-level preemption and timers as choices, on the finer zoo.

For each exhibit: the buggy scenario explored with its revealing options
(``granularity="line"``, or ``timers="choice"``) -- found, with its trace and
replay token; the same scenario explored exhaustively with the default options
-- nothing found, which is the point; and the fixed twin explored exhaustively
with the revealing options -- no failure.
"""

from __future__ import annotations

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.demo.zoo.finer import FINER_ZOO, FinerBug
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure

TITLE = "Line-level preemption"

_RUNS = 500
#: dfs runs allowed to exhaust a bounded space (the largest here needs about 600)
_DFS_RUNS = 5000


def _revealing(options: dict[str, str]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in options.items())


def _found(finer: FinerBug) -> Outcome:
    bug, options = finer.bug, finer.options()
    name = f"{bug.name} ({bug.origin}), {_revealing(options)}"
    started = _realtime.perf_counter()
    try:
        explore(
            bug.load().buggy,
            strategy="pct",
            runs=_RUNS,
            seed=1,
            patch=bug.patch_targets(),
            **options,
        )
    except InterleavingFailure as failure:
        summary = str(failure).splitlines()[0]
        return Outcome(
            name=name,
            expected="bug found",
            observed=f"found by pct after {failure.schedules_run} schedule(s)",
            ok=True,
            seconds=_realtime.perf_counter() - started,
            detail=f"{summary}\n{failure.trace.format(limit=40)}\nreplay token: {failure.token}",
        )
    return Outcome(
        name=name,
        expected="bug found",
        observed=f"not found in {_RUNS} schedules",
        ok=False,
        seconds=_realtime.perf_counter() - started,
    )


def _exhausted(finer: FinerBug, *, fixed: bool) -> Outcome:
    bug = finer.bug
    options = finer.options() if fixed else {}
    scenario = bug.load().fixed if fixed else bug.load().buggy
    started = _realtime.perf_counter()
    try:
        result = explore(
            scenario,
            strategy="dfs",
            preemption_bound=2,
            runs=_DFS_RUNS,
            patch=bug.patch_targets(),
            **options,
        )
    except InterleavingFailure as failure:
        observed, ok = f"failed after {failure.schedules_run} schedule(s)", False
    else:
        observed = f"{result.schedules_run} schedules, exhausted={result.exhausted}"
        ok = result.exhausted
    label = f"fixed twin, {_revealing(options)}" if fixed else "buggy, default options"
    return Outcome(
        name=f"{bug.name}: {label}",
        expected="no failure, space exhausted",
        observed=observed,
        ok=ok,
        seconds=_realtime.perf_counter() - started,
    )


def run() -> list[Outcome]:
    outcomes: list[Outcome] = []
    for finer in FINER_ZOO:
        outcomes.append(_found(finer))
        outcomes.append(_exhausted(finer, fixed=False))
        outcomes.append(_exhausted(finer, fixed=True))
    return outcomes
