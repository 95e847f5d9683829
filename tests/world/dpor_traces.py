"""The Mazurkiewicz traces an exploration ran: a reduction checked against exhaustive search.

A run's trace is named by the order of its dependent accesses: every pair of
accesses by two different threads (or asyncio tasks) to locations that may be
the same, not both reads, in the order they ran -- each access named by its
thread and its position among that thread's accesses to shared locations. Two
runs get the same name exactly when one only reorders independent accesses of
the other. Waits are left out: they order nothing (the step after the wake-up
is the access).

``traces(scenario, strategy)`` runs an exploration to its end and returns the
names of the traces it ran; a sound reduction runs every trace an exhaustive
(bounded) DFS runs. Both record their runs' events the same way: the
reduction's own observer, with the choices left to the strategy explored.
``outcomes`` does the same for what a scenario records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from pytest_concurrency.world.api import explore
from pytest_concurrency.world.dpor import DPORStrategy, ordered
from pytest_concurrency.world.events import WAIT
from pytest_concurrency.world.exploration import tracing
from pytest_concurrency.world.locations import conflict
from pytest_concurrency.world.options import ExploreOptions
from pytest_concurrency.world.runner import run_schedule
from pytest_concurrency.world.scheduler import ThreadRecord
from pytest_concurrency.world.strategies import DFSStrategy, ExplorationStrategy

Name = tuple[frozenset[tuple[tuple[int, int], tuple[int, int]]], tuple[tuple[int, int], ...]]


def name_of(events: Sequence[Any]) -> Name:
    """The trace of a run's events (see the module docstring).

    Accesses that no other thread's access may meet (a task touching its own
    task object at each step) are left out: they order nothing, and counting
    them would tell apart runs that differ only in where a step began.
    """
    accesses: list[tuple[int, Any, str]] = [
        (event.thread, key, mode)
        for event in events
        for key, mode in event.accesses
        if mode != WAIT
    ]
    shared = [
        any(
            thread != other_thread and conflict(key, other_key)
            for other_thread, other_key, _mode in accesses
        )
        for thread, key, _mode in accesses
    ]
    flat: list[tuple[tuple[int, int], Any, str]] = []
    seen: Counter[int] = Counter()
    for (thread, key, mode), meets in zip(accesses, shared, strict=True):
        if meets:
            flat.append(((thread, seen[thread]), key, mode))
            seen[thread] += 1
    pairs = set()
    for j, (second, key, mode) in enumerate(flat):
        for first, other_key, other_mode in flat[:j]:
            if first[0] != second[0] and conflict(other_key, key) and ordered(other_mode, mode):
                pairs.add((first, second))
    return frozenset(pairs), tuple(sorted(seen.items()))


class ReducedTraces(DPORStrategy):
    """The reduction, naming the trace of each run it makes."""

    def __init__(self) -> None:
        super().__init__(None)
        self.names: Counter[Name] = Counter()

    def end_run(self, choice_count: int) -> None:
        self.names[name_of(self._events)] += 1
        super().end_run(choice_count)


class SearchedTraces(DPORStrategy):
    """Another strategy's choices (exhaustive DFS), the runs' events recorded as the reduction's."""

    def __init__(self, inner: ExplorationStrategy) -> None:
        super().__init__(None)
        self.inner = inner
        self.name = inner.name
        self.names: Counter[Name] = Counter()

    def begin_run(self) -> bool:
        self._nodes = []
        self._events = []
        self._numbers = {}
        self._numbered = []
        self._creator = {}
        self._lanes = {}
        more = self.inner.begin_run()
        self.exhausted = self.inner.exhausted
        return more

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        return self.inner.choose(enabled, current)

    def choose_step(self, enabled: list[ThreadRecord], default: ThreadRecord) -> ThreadRecord:
        return self.inner.choose_step(enabled, default)

    def end_run(self, choice_count: int) -> None:
        self.names[name_of(self._events)] += 1
        self.inner.end_run(choice_count)


def traces(
    scenario: Callable[[], object],
    strategy: ReducedTraces | SearchedTraces,
    *,
    trace: list[object],
    limit: int = 50_000,
    **options: Any,
) -> set[Name]:
    """Every trace ``strategy`` runs exploring ``scenario`` to its end, at memory granularity."""
    settings = ExploreOptions.create(
        strategy="dfs", granularity="memory", trace=trace, runs=None, **options
    ).run_settings(scenario)
    runs = 0
    with tracing(settings):
        while strategy.begin_run():
            result = run_schedule(scenario, strategy, settings)
            strategy.end_run(len(result.choices))
            runs += 1
            assert runs < limit, f"not exhausted within {limit} runs"
    assert strategy.exhausted
    return set(strategy.names)


def missed_by_the_reduction(
    scenario: Callable[[], object], bound: int, *, trace: list[object], **options: Any
) -> tuple[set[Name], set[Name]]:
    """(the reduction's traces, those DFS within ``bound`` preemptions ran and it did not)."""
    reduced = traces(scenario, ReducedTraces(), trace=trace, **options)
    searched = traces(scenario, SearchedTraces(DFSStrategy(bound)), trace=trace, **options)
    return reduced, searched - reduced


def outcomes(
    make: Callable[[list[object]], Callable[[], Any]],
    strategy: str,
    *,
    trace: list[object],
    **options: Any,
) -> tuple[set[str], int]:
    """(the outcomes ``make``'s scenario recorded, the runs) exploring it to its end."""
    recorded: list[object] = []
    result = explore(
        make(recorded),
        strategy=strategy,
        granularity="memory",
        runs=None,
        races="ignore",  # racy on purpose
        trace=trace,
        **options,
    )
    assert result.exhausted
    return set(map(repr, recorded)), result.schedules_run
