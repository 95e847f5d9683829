"""Demo section: the interleaving explorer's defaults on the bug zoo.

For each bug: ``explore(buggy)`` with no strategy or granularity -- the
reduction at memory granularity -- finds it; shown are the schedules it took,
the fewest preemptions that fail, the trace and the replay token. Then the
fixed twin, explored the same way, is proven: every class of interleavings
ran (``exhausted``, no preemption bound) and passed.
"""

from __future__ import annotations

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.demo.zoo import ZOO, ZooBug
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure

TITLE = "Interleaving explorer: the bug zoo under the defaults"

#: executions the default may spend on a bug (each needs a handful)
_RUNS = 500


def found_by_default(name: str, scenario: object, **options: object) -> Outcome:
    """``explore(scenario)`` with the defaults (plus ``options``): the bug must be found."""
    started = _realtime.perf_counter()
    try:
        explore(scenario, runs=_RUNS, **options)  # type: ignore[arg-type]
    except InterleavingFailure as failure:
        summary = str(failure).splitlines()[0]
        fewest = "" if failure.preemptions is None else f", {failure.preemptions} preemption(s)"
        return Outcome(
            name=name,
            expected="bug found",
            observed=f"found by {failure.strategy} after {failure.schedules_run} schedule(s)"
            + fewest,
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


def proven_by_default(name: str, scenario: object, **options: object) -> Outcome:
    """``explore(scenario)`` with the defaults: it must pass and cover its whole space.

    Data races are not reported here: the exhibits collect their results in
    lists appended from several threads, which is not what they are about.
    """
    started = _realtime.perf_counter()
    try:
        result = explore(scenario, races="ignore", **options)  # type: ignore[arg-type]
    except InterleavingFailure as failure:
        observed, ok = f"failed after {failure.schedules_run} schedule(s)", False
    else:
        observed, ok = result.coverage, result.exhausted
    return Outcome(
        name=name,
        expected="no failure, space exhausted",
        observed=observed,
        ok=ok,
        seconds=_realtime.perf_counter() - started,
    )


def _exhibit(bug: ZooBug) -> list[Outcome]:
    module = bug.load()
    patch = bug.patch_targets()
    return [
        found_by_default(f"{bug.name} ({bug.origin})", module.buggy, patch=patch),
        proven_by_default(f"{bug.name}: fixed twin", module.fixed, patch=patch),
    ]


def run() -> list[Outcome]:
    outcomes: list[Outcome] = []
    for bug in ZOO:
        outcomes += _exhibit(bug)
    return outcomes
