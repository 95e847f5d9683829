"""The exploration loop: one schedule after another until one fails or the space is covered.

Each run is a fresh controlled world (:func:`~.runner.run_schedule`); exploring
records only the choices. A failing schedule is then replayed with tracing on
(:mod:`.explain`) to build its trace, its racing accesses and the schedule with
the fewest preemptions, and confirmed before it is reported. A passing
exploration that raced on shared memory warns or fails as ``races=`` says.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pytest_concurrency import _realtime
from pytest_concurrency.world import interrupted, scenarios, session_log, workers
from pytest_concurrency.world import token as tokens
from pytest_concurrency.world.distinct import DistinctCounter
from pytest_concurrency.world.options import ExploreOptions, Scenario
from pytest_concurrency.world.report import (
    DataRaceWarning,
    NondeterministicScenarioError,
    NotExhaustedWarning,
    build_failure,
)
from pytest_concurrency.world.runner import RunResult, RunSettings, run_schedule
from pytest_concurrency.world.scheduler import RunFailure, controlling_scheduler
from pytest_concurrency.world.shards import Shard, share_of_runs
from pytest_concurrency.world.strategies import ExplorationStrategy, make_strategy, uses

if TYPE_CHECKING:  # a passing exploration never needs them: imported where a failure is explained
    from pytest_concurrency.world import explain
    from pytest_concurrency.world.conflicts import Conflict

__all__ = [
    "ExploreResult",
    "ReplayCommand",
    "exclusive",
    "replay_command",
    "replay_token",
    "run_exploration",
    "tracing",
]

#: one exploration at a time per process: the patches are process-wide
_EXPLORING = _realtime.allocate_lock()

#: turns a token into the command line that replays it
ReplayCommand = Callable[[str], str]


@dataclass(frozen=True)
class ExploreResult:
    """How an exploration that found no failure went, and what it covered."""

    strategy: str
    #: the seed the strategy used (None for dfs and dpor, which use none)
    seed: int | None
    #: executions: the schedules run
    schedules_run: int
    #: how many different schedules (choice sequences) those runs were: exact up to
    #: 4,096, an estimate (about 1.6% standard error) past that (see .distinct)
    distinct_schedules: int
    #: True when dfs covered its whole preemption-bounded space, or dpor every
    #: equivalence class of interleavings (within its bound, if it had one)
    exhausted: bool
    #: real seconds
    elapsed: float
    #: dpor: how many of the runs were a new equivalence class (the others were
    #: cut short by a sleep set and repeated a class already run); None otherwise
    equivalence_classes: int | None = None
    #: what a scheduling point was: "memory", "sync", "line" or "opcode"
    granularity: str = "sync"
    #: dfs and dpor: the most preemptions a schedule had (None: no bound, or a
    #: strategy that has none)
    preemption_bound: int | None = None
    #: the part of the space explored, ``(index, count)`` (None: all of it); then
    #: ``exhausted`` says that this part is covered, and ``schedules_run`` counts
    #: this part's schedules only (not the runs that walked through other parts)
    shard: tuple[int, int] | None = None
    #: False once ``distinct_schedules`` is an estimate (memory stays flat however long)
    distinct_exact: bool = True

    @property
    def coverage(self) -> str:
        """What the exploration covered, in words (for pass reports)."""
        return coverage_text(
            self.strategy,
            self.granularity,
            self.preemption_bound,
            exhausted=self.exhausted,
            schedules=self.schedules_run,
            classes=self.equivalence_classes,
            seed=self.seed,
        )

    def properties(self) -> tuple[tuple[str, object], ...]:
        """What a pass covered as (name, value) pairs, for a test report's properties."""
        pairs: list[tuple[str, object]] = [
            ("schedules_run", self.schedules_run),
            ("strategy", self.strategy),
            ("granularity", self.granularity),
        ]
        if self.strategy in ("dfs", "dpor"):
            bound = self.preemption_bound
            pairs.append(("preemption_bound", "none" if bound is None else bound))
            pairs.append(("exhausted", self.exhausted))
        elif self.seed is not None:
            pairs.append(("seed", self.seed))
        if self.equivalence_classes is not None:
            pairs.append(("equivalence_classes", self.equivalence_classes))
        pairs.append(("coverage", self.coverage))
        return tuple(pairs)


def coverage_text(
    strategy: str,
    granularity: str,
    bound: int | None,
    *,
    exhausted: bool,
    schedules: int,
    classes: int | None,
    seed: int | None = None,
) -> str:
    """``dpor, memory granularity, no preemption bound: exhausted (4 equivalence classes in
    5 executions)``: what one exploration covered."""
    how = f"{strategy}, {granularity} granularity"
    if strategy in ("dfs", "dpor"):
        how += ", no preemption bound" if bound is None else f", preemption bound {bound}"
    elif seed is not None:
        how += f", seed {seed}"
    ran = f"{schedules} execution{'' if schedules == 1 else 's'}"
    if classes is not None:
        ran = f"{classes} equivalence class{'' if classes == 1 else 'es'} in {ran}"
    if strategy not in ("dfs", "dpor"):
        return f"{how}: {ran} (sampled)"
    return f"{how}: {'exhausted' if exhausted else 'NOT exhausted'} ({ran})"


def tracing(settings: RunSettings) -> contextlib.AbstractContextManager[object]:
    """The line (opcode) tracer around an exploration's runs (nothing at sync granularity)."""
    return settings.lines if settings.lines is not None else contextlib.nullcontext()


def replay_token(choices: tuple[int, ...], tag: int, settings: RunSettings) -> str:
    """The replay token of ``choices``, with the settings a replay must share."""
    lines = settings.lines
    cancels = settings.inject_cancel
    if lines is None:
        return tokens.encode(choices, tag, timers=settings.timers, inject_cancel=cancels)
    return tokens.encode(
        choices,
        tag,
        lines.kind,
        timers=settings.timers,
        trace_tag=lines.selection.tag,
        inject_cancel=cancels,
    )


class _Exclusive:
    """Refuses nested and concurrent explorations (their patches would collide)."""

    def __enter__(self) -> None:
        if controlling_scheduler() is not None:
            raise RuntimeError("explore()/replay() cannot be called inside a scenario")
        if not _EXPLORING.acquire(False):
            raise RuntimeError(
                "another exploration is running in this process: explorations patch "
                "process-wide globals and cannot overlap"
            )

    def __exit__(self, *exc_info: object) -> None:
        _EXPLORING.release()


def exclusive() -> contextlib.AbstractContextManager[None]:
    """Holds the process's one exploration slot (nested or concurrent ones are refused)."""
    return _Exclusive()


def _default_command(scenario: Scenario, token: str) -> str:
    return f'pytest_concurrency.replay({tokens.scenario_name(scenario)}, "{token}")'


def replay_command(scenario: Scenario, command: ReplayCommand | None, token: str) -> str:
    return command(token) if command is not None else _default_command(scenario, token)


def run_exploration(
    scenario: Scenario, options: ExploreOptions, *, command: ReplayCommand | None = None
) -> ExploreResult:
    """``explore`` with validated options; ``command`` formats the replay command line.

    A default exploration that stopped at its run cap says that its pass is no proof.
    """
    __tracebackhide__ = True  # pytest shows the user's frames, not ours
    result = _explore(scenario, options, command)
    capped = options.default_cap and result.schedules_run >= (options.runs or 0)
    if (
        capped
        and not result.exhausted
        and ("strategy" not in options.given or result.strategy == "dpor")
    ):
        _warn_not_exhausted(result)
    return result


def _warn_not_exhausted(result: ExploreResult) -> None:
    """A default exploration stopped at its run cap: every schedule run passed, yet some
    classes of interleavings never ran."""
    warnings.warn(
        NotExhaustedWarning(
            f"the exploration stopped at its default cap of {result.schedules_run} runs before "
            f"covering every interleaving ({result.coverage}): this pass proves nothing about "
            "the schedules not run. Give runs=None to explore them all, a preemption_bound to "
            "cover fewer, or make the scenario smaller (fewer threads or operations)"
        ),
        stacklevel=4,
    )


def _explore(
    scenario: Scenario, options: ExploreOptions, command: ReplayCommand | None
) -> ExploreResult:
    """One exploration with one strategy (see :func:`run_exploration`)."""
    __tracebackhide__ = True  # pytest shows the user's frames, not ours
    scenarios.check(scenario)
    returned = scenarios.ReturnCheck(scenario)
    seed = options.seed if options.seed is not None else int.from_bytes(os.urandom(4), "big")
    #: the seed the result and a failure report (None for a strategy that reads none)
    reported_seed = seed if uses(options.strategy, "seed") else None
    shard = options.shard
    strategy = make_strategy(
        options.strategy,
        seed=seed,
        depth=options.depth,
        preemption_bound=options.preemption_bound,
        shard=shard,
    )
    settings = options.run_settings(scenario)
    started = _realtime.perf_counter()
    #: schedules of this exploration's part of the space (runs through other parts not counted)
    runs = 0
    limit = share_of_runs(options.runs, shard)
    #: every run, those through other shards' parts too
    walked = 0
    distinct = DistinctCounter()
    how = _how(reported_seed, options.preemption_bound, shard)

    def replay_of(choices: tuple[int, ...]) -> tuple[str, str]:
        token = replay_token(choices, tokens.scenario_tag(scenario), settings)
        return token, replay_command(scenario, command, token)

    bound = options.preemption_bound if uses(options.strategy, "preemption_bound") else None
    current = interrupted.InProgress(strategy.name, how, replay_of)
    #: the first passing run that raced on a location not marked benign, replayed traced
    racy: explain.Traced | None = None
    checked = 0
    with (
        exclusive(),
        tracing(settings),
        session_log.watching(strategy, limit, options.granularity, bound, _pair(shard)) as log,
        interrupted.live(current),
        workers.scope(),
    ):
        while limit is None or runs < limit:
            budget = options.time_budget
            if budget is not None and walked and _realtime.perf_counter() - started >= budget:
                break
            if not strategy.begin_run():
                break
            current.begin(runs)
            try:
                result = run_schedule(returned.target, strategy, settings, on_start=current.started)
            except BaseException as interrupt:  # a timeout, Ctrl-C: say how far it got
                interrupted.note(interrupt, current.describe())
                raise
            strategy.end_run(len(result.choices))
            walked += 1
            if strategy.discovering:  # a walk through another shard's part: only a scenario that
                if _nondeterministic(result):  # cannot be replayed is this shard's business
                    raise _explored_failure(
                        scenario, result, strategy, reported_seed, runs, settings, command, options
                    )
                continue
            runs += 1
            distinct.add(result.choices)
            log.ran(runs, strategy)  # progress listeners: one clock read per schedule
            if result.failure is not None:
                raise _explored_failure(
                    scenario,
                    result,
                    strategy,
                    reported_seed,
                    runs,
                    settings,
                    command,
                    options,
                )
            returned.check()
            if runs == 1:
                _check_cancellable(options, result)
            if racy is None and checked < RACE_CHECKS and _races_in(strategy, options):
                checked += 1
                racy = _racing(scenario, result.choices, settings, options)
        if walked:  # a shard with no share of the runs ran none, and saw nothing
            _check_memory_seen(strategy, runs, settings, defaulted="strategy" not in options.given)
        if racy is not None:
            _report_races(scenario, racy, settings, options, command, strategy.name, runs)
    return ExploreResult(
        strategy=strategy.name,
        seed=reported_seed,
        schedules_run=runs,
        distinct_schedules=distinct.count,
        exhausted=strategy.exhausted,
        elapsed=_realtime.perf_counter() - started,
        equivalence_classes=getattr(strategy, "classes", None),
        granularity=options.granularity,
        preemption_bound=bound,
        shard=_pair(shard),
        distinct_exact=distinct.exact,
    )


def _pair(shard: Shard | None) -> tuple[int, int] | None:
    return None if shard is None else (shard.index, shard.count)


def _how(seed: int | None, bound: int | None, shard: Shard | None) -> str:
    """How the exploration chose its schedules, as a failure report says it."""
    how = f"seed {seed}" if seed is not None else f"preemption bound {bound}"
    if seed is None and bound is None:
        how = "no preemption bound"
    return how if shard is None else f"{how}, {shard}"


def _nondeterministic(result: RunResult) -> bool:
    return result.failure is not None and result.failure.kind in ("nondeterministic", "mismatch")


#: passing runs that raced, replayed (traced) to name their accesses: a few at most, since a
#: run whose races are all on benign locations costs a replay and shows nothing
RACE_CHECKS = 4


def _races_in(strategy: ExplorationStrategy, options: ExploreOptions) -> bool:
    """Did the run just ended race on memory (the reduction finds its races on every run)?"""
    return options.races != "ignore" and bool(getattr(strategy, "racing", ()))


def _racing(
    scenario: Scenario, choices: tuple[int, ...], settings: RunSettings, options: ExploreOptions
) -> explain.Traced | None:
    """The traced replay of a racing run, if it raced on a location not marked benign.

    Naming the accesses needs their ``file:line`` and the location's class,
    which only a traced replay records.
    """
    from pytest_concurrency.world import explain

    replayed = explain.traced(scenario, choices, settings, across_threads=True)
    if replayed.result.failure is not None:
        return None
    conflicts = tuple(c for c in replayed.conflicts if not c.marked(options.benign))
    return replace(replayed, conflicts=conflicts) if conflicts else None


def _report_races(
    scenario: Scenario,
    replayed: explain.Traced,
    settings: RunSettings,
    options: ExploreOptions,
    command: ReplayCommand | None,
    strategy: str,
    runs: int,
) -> None:
    """Warn of (or fail on) the data races of a passing exploration."""
    __tracebackhide__ = True
    conflicts = replayed.conflicts
    choices = replayed.result.choices
    token = replay_token(choices, tokens.scenario_tag(scenario), settings)
    again = replay_command(scenario, command, token)
    from pytest_concurrency.world.conflicts import describe_conflicts

    named = describe_conflicts(conflicts)
    hint = (
        f"if this race is intended, pass benign=[{conflicts[0].what!r}] to explore(); "
        "otherwise order the accesses (a lock, an event, a join)"
    )
    if options.races == "warn":
        lines = [
            "data race: every schedule passed, but threads access one location with nothing "
            "ordering them:",
            *(f"  {line}" for line in named),
            hint,
            f"run that schedule again with: {again}",
        ]
        warnings.warn(DataRaceWarning("\n".join(lines)), stacklevel=5)
        return
    raise build_failure(
        RunFailure(
            "race",
            f"data race: {named[0]} (the scenario's assertions held; the outcome depends on "
            "timing)",
        ),
        token=token,
        trace=replayed.trace,
        found=f"found by strategy {strategy!r} after {runs} schedule(s) (races='error')",
        command=again,
        strategy=strategy,
        seed=None,
        schedules_run=runs,
        notes=(
            "racing accesses (no lock, join or event orders them):",
            *(f"  {n}" for n in named),
            hint,
        ),
        conflicts=conflicts,
        preemptions=replayed.preemptions,
    )


def _check_cancellable(options: ExploreOptions, first: RunResult) -> None:
    """``inject_cancel`` on a scenario that ran no asyncio event loop would cancel nothing.

    Decided on the exploration's first run (which passed): a sync scenario that
    starts a loop with ``asyncio.run`` has one, so the kind of the callable says
    nothing; whether a loop ran does.
    """
    if options.inject_cancel and not first.loops:
        raise ValueError(
            f"inject_cancel={options.inject_cancel} needs an asyncio scenario: this scenario "
            "ran no asyncio event loop, so it has no task to cancel. Make the scenario an "
            "async def, have it run its code with asyncio.run(...), or remove inject_cancel"
        )


def _check_memory_seen(
    strategy: ExplorationStrategy, runs: int, settings: RunSettings, *, defaulted: bool
) -> None:
    """A reduction that saw no shared memory at all proves nothing about the code under test.

    It reorders conflicting accesses; with none in the traced code (the code
    under test lives in a library or package ``trace=`` does not cover) every
    run looks alike and the exploration would end, exhausted, after one.
    """
    if getattr(strategy, "memory_accesses", None) != 0:
        return
    lines = settings.lines
    covered = "" if lines is None else f" ({lines.selection!r})"
    who = "explore()'s default strategy, dpor," if defaulted else "strategy='dpor'"
    raise ValueError(
        f"{who} saw no access to shared memory in the traced code{covered} in "
        f"{runs} run(s): the code under test is not traced, so there was nothing to reorder "
        "and a pass would prove nothing about it. Name it with trace=[its module or "
        "package] (by default only the scenario's file and your project's non-test code "
        "under the current directory are traced; installed libraries never are)"
    )


def _explored_failure(
    scenario: Scenario,
    result: RunResult,
    strategy: ExplorationStrategy,
    seed: int | None,
    runs: int,
    settings: RunSettings,
    command: ReplayCommand | None,
    options: ExploreOptions,
) -> BaseException:
    failure = result.failure
    assert failure is not None
    if _nondeterministic(result):
        return NondeterministicScenarioError(
            f"the scenario is not deterministic: {failure.summary}. A schedule must depend only "
            "on the scheduler's choices: avoid randomness, real time, iterating over sets of "
            "objects, and state kept from a previous run"
        )
    choices = result.choices
    notes: list[str] = []
    trace = None
    conflicts: tuple[Conflict, ...] = ()
    preemptions: int | None = None
    fewest = ""
    from pytest_concurrency.world import explain
    from pytest_concurrency.world.conflicts import describe_conflicts

    if failure.kind != "uncontrolled":  # replaying it would only block again
        replayed = explain.traced(scenario, choices, settings)
        same = replayed.result.failure is not None and replayed.result.failure.same_as(failure)
        if same:
            simpler = explain.fewest_preemptions(
                scenario, options.strategy, failure, replayed.preemptions, settings
            )
            if simpler is not None:
                replayed, choices = simpler, simpler.result.choices
            if options.strategy in explain.SEARCHABLE:
                fewest = f" (fewest preemptions: {replayed.preemptions})"
            assert replayed.result.failure is not None
            failure = replayed.result.failure
            trace = replayed.trace
            conflicts = replayed.conflicts
            preemptions = replayed.preemptions
        confirmed = explain.confirm(scenario, choices, settings, failure, traced_same=same)
        if confirmed == explain.REPLAYS:
            notes.append(
                f"replayed {confirmed}/{explain.REPLAYS}: the schedule failed the same way "
                "every time"
            )
        else:
            notes.append(
                f"replayed {confirmed}/{explain.REPLAYS}: this schedule did not fail the same "
                "way every time, so the scenario is not deterministic (randomness, real time, "
                "hash order, state kept between runs) and its token may not reproduce it"
                + ("" if same else "; no trace")
            )
    token = replay_token(choices, tokens.scenario_tag(scenario), settings)
    if conflicts:
        notes.append("racing accesses (no lock, join or event orders them):")
        notes.extend(f"  {line}" for line in describe_conflicts(conflicts))
    if result.abandoned:
        notes.append(
            f"note: {', '.join(result.abandoned)} could not be stopped and were abandoned "
            "(daemon threads; they end at their next scheduling point)"
        )
    how = _how(seed, options.preemption_bound, options.shard)
    return build_failure(
        failure,
        token=token,
        trace=trace,
        found=f"found by strategy {strategy.name!r} ({how}) after {runs} schedule(s){fewest}",
        command=replay_command(scenario, command, token),
        strategy=strategy.name,
        seed=seed,
        schedules_run=runs,
        notes=tuple(notes),
        conflicts=conflicts,
        preemptions=preemptions,
    )
