"""Before a failure is reported: its simplest schedule, its racing accesses, its replays.

Only a failing exploration pays for any of this, and only a few runs:

- the failing schedule is replayed once with tracing on (:func:`traced`),
  which gives the trace, the number of preemptions (a switch away from a
  thread that could have gone on: the trace's "preempted" markers) and, at
  memory granularity, the racing accesses (:mod:`.conflicts`);
- for the systematic strategies, a schedule with fewer preemptions that fails
  the same way is looked for by increasing preemption bound
  (:func:`fewest_preemptions`): a schedule with one preemption is one a person
  can follow, and the bound-0, bound-1, ... explorations are small;
- the reported schedule is replayed again (:func:`confirm`), so the message
  says whether its token reproduces it or the scenario is not deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pytest_concurrency.world.conflicts import Conflict, ExplainingReplay
from pytest_concurrency.world.runner import RunResult, RunSettings, run_schedule
from pytest_concurrency.world.scheduler import RunFailure
from pytest_concurrency.world.strategies import ReplayStrategy, make_strategy
from pytest_concurrency.world.trace import Trace, Tracer

__all__ = [
    "REPLAYS",
    "SEARCH_RUNS",
    "SEARCH_TOTAL",
    "Traced",
    "confirm",
    "count_preemptions",
    "fewest_preemptions",
    "traced",
]

#: replays of the reported schedule, the traced one included
REPLAYS = 3
#: runs each bounded re-exploration may take while looking for fewer preemptions
SEARCH_RUNS = 100
#: runs the whole search may take (a schedule with many preemptions must not cost minutes)
SEARCH_TOTAL = 400
#: the strategies whose bound makes "fewer preemptions" a search
SEARCHABLE = ("dfs", "dpor")

Scenario = Callable[[], object]


@dataclass(frozen=True)
class Traced:
    """The traced replay of one schedule."""

    result: RunResult
    trace: Trace
    preemptions: int
    conflicts: tuple[Conflict, ...]


def count_preemptions(trace: Trace) -> int:
    """Switches away from a thread that could have gone on, as the trace marks them."""
    return sum(1 for step in trace.steps if step.preempted)


def traced(
    scenario: Scenario,
    choices: tuple[int, ...],
    settings: RunSettings,
    *,
    across_threads: bool = False,
) -> Traced:
    """Replay ``choices`` with a tracer; at memory granularity also find the racing accesses.

    ``across_threads``: only those made on two OS threads (the data races, see
    :meth:`~.conflicts.ExplainingReplay.conflicts`).
    """
    tracer = Tracer()
    memory = settings.lines is not None and settings.lines.kind == "memory"
    if memory:
        observer = ExplainingReplay(choices)
        result = run_schedule(scenario, observer, settings, tracer)
        conflicts = observer.conflicts(across_threads=across_threads)
    else:
        result = run_schedule(scenario, ReplayStrategy(choices), settings, tracer)
        conflicts = ()
    trace = tracer.trace()
    return Traced(result, trace, count_preemptions(trace), conflicts)


def fewest_preemptions(
    scenario: Scenario,
    strategy: str,
    failure: RunFailure,
    preemptions: int,
    settings: RunSettings,
) -> Traced | None:
    """A traced schedule failing like ``failure`` with fewer than ``preemptions``, if found.

    Explores with ``strategy`` at bounds 0, 1, ... below ``preemptions``, each
    for at most :data:`SEARCH_RUNS` runs, and keeps the first failing schedule
    whose trace counts fewer preemptions (a strategy's own count and the
    trace's markers agree on threads; the trace is what is reported).
    """
    if strategy not in SEARCHABLE:
        return None
    spent = 0
    for bound in range(preemptions):
        explorer = make_strategy(strategy, seed=0, depth=1, preemption_bound=bound)
        for _run in range(SEARCH_RUNS):
            if spent >= SEARCH_TOTAL or not explorer.begin_run():
                break
            spent += 1
            result = run_schedule(scenario, explorer, settings)
            explorer.end_run(len(result.choices))
            if result.failure is None or not result.failure.same_as(failure):
                continue
            candidate = traced(scenario, result.choices, settings)
            same = candidate.result.failure
            if same is not None and same.same_as(failure) and candidate.preemptions < preemptions:
                return candidate
    return None


def confirm(
    scenario: Scenario,
    choices: tuple[int, ...],
    settings: RunSettings,
    failure: RunFailure,
    *,
    traced_same: bool,
) -> int:
    """How many of :data:`REPLAYS` replays fail like ``failure``; the traced one is the first."""
    confirmed = 1 if traced_same else 0
    for _replay in range(REPLAYS - 1):
        result = run_schedule(scenario, ReplayStrategy(choices), settings)
        if result.failure is not None and result.failure.same_as(failure):
            confirmed += 1
    return confirmed
