"""Demo section: the bugs between synchronisation points, on the finer zoo.

For each exhibit: the defaults find the bug -- a lost ``self.value += 1``
or a check-then-set needs no option, since every access to shared memory is a
scheduling point (a timeout firing just before a notify needs
``timers="choice"``); the same scenario explored exhaustively at
``granularity="sync"`` passes, which is the point; and the fixed twin is
proven by the defaults.
"""

from __future__ import annotations

from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.demo.explore_demo import found_by_default, proven_by_default
from pytest_concurrency.demo.zoo.finer import FINER_ZOO, FinerBug
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure

TITLE = "Between synchronisation points: memory accesses and timers"

#: dfs runs allowed to exhaust a bounded space (the largest here needs about 600)
_DFS_RUNS = 5000


def _needed(finer: FinerBug) -> dict[str, Any]:
    """What the defaults need for this exhibit: timer choices only, never a granularity."""
    return {name: value for name, value in finer.options().items() if name == "timers"}


def _hidden_at_sync_points(finer: FinerBug) -> Outcome:
    bug = finer.bug
    started = _realtime.perf_counter()
    try:
        result = explore(
            bug.load().buggy,
            strategy="dfs",
            granularity="sync",
            preemption_bound=2,
            runs=_DFS_RUNS,
            patch=bug.patch_targets(),
        )
    except InterleavingFailure as failure:
        observed, ok = f"failed after {failure.schedules_run} schedule(s)", False
    else:
        observed, ok = f"{result.schedules_run} schedules, exhausted", result.exhausted
    return Outcome(
        name=f"{bug.name}: buggy, dfs at granularity='sync'",
        expected="no failure (the bug hides)",
        observed=observed,
        ok=ok,
        seconds=_realtime.perf_counter() - started,
    )


def run() -> list[Outcome]:
    outcomes: list[Outcome] = []
    for finer in FINER_ZOO:
        bug = finer.bug
        options = {**_needed(finer), "patch": bug.patch_targets()}
        flags = "".join(f", {name}={value!r}" for name, value in _needed(finer).items())
        outcomes.append(
            found_by_default(f"{bug.name} ({bug.origin}{flags})", bug.load().buggy, **options)
        )
        outcomes.append(_hidden_at_sync_points(finer))
        outcomes.append(proven_by_default(f"{bug.name}: fixed twin", bug.load().fixed, **options))
    return outcomes
