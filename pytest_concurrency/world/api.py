"""The explorer's public functions: ``explore``, ``replay``, ``spawn``, ``checkpoint``.

``explore`` runs a zero-argument scenario once per schedule, each time in a
fresh controlled world, until a schedule fails (raising
:class:`~.report.InterleavingFailure` with a trace and a replay token), the run
count or time budget is spent, or -- for ``dfs`` -- the bounded space is
exhausted. Exploring records only the choices; a failing schedule is then
replayed once with tracing on to build its trace.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency._checks import check_count, check_seconds
from pytest_concurrency.world import explain, interrupted, scenarios, session_log
from pytest_concurrency.world import token as tokens
from pytest_concurrency.world.conflicts import Conflict, describe_conflicts
from pytest_concurrency.world.lines import GRANULARITIES, LineTracing
from pytest_concurrency.world.patching import PatchPlan
from pytest_concurrency.world.report import (
    DataRaceWarning,
    InterleavingFailure,
    NondeterministicScenarioError,
    build_failure,
)
from pytest_concurrency.world.runner import RunResult, RunSettings, run_schedule
from pytest_concurrency.world.scheduler import RunFailure, controlling_scheduler
from pytest_concurrency.world.selection import TraceSelection
from pytest_concurrency.world.strategies import (
    STRATEGIES,
    ExplorationStrategy,
    ReplayStrategy,
    check_strategy_options,
    make_strategy,
    uses,
)
from pytest_concurrency.world.threads import SpawnHandle, spawn
from pytest_concurrency.world.timers import TIMER_MODES
from pytest_concurrency.world.trace import Tracer

__all__ = [
    "ExploreOptions",
    "ExploreResult",
    "SpawnHandle",
    "check_replay_options",
    "checkpoint",
    "explore",
    "patch_current_run",
    "replay",
    "run_exploration",
    "run_replay",
    "spawn",
    "token_matches",
    "with_session_defaults",
]

#: one exploration at a time per process: the patches are process-wide
_EXPLORING = _realtime.allocate_lock()

Scenario = Callable[[], object]
#: turns a token into the command line that replays it
ReplayCommand = Callable[[str], str]


@dataclass(frozen=True)
class ExploreResult:
    """How an exploration that found no failure went."""

    strategy: str
    #: the seed the strategy used (None for dfs, which uses none)
    seed: int | None
    schedules_run: int
    #: how many different schedules (choice sequences) those runs were
    distinct_schedules: int
    #: True when dfs covered its whole preemption-bounded space, or dpor every
    #: equivalence class of interleavings (within its bound, if it had one)
    exhausted: bool
    #: real seconds
    elapsed: float
    #: dpor: how many of the runs were a new equivalence class (the others were
    #: cut short by a sleep set and repeated a class already run); None otherwise
    equivalence_classes: int | None = None


class _Unset:
    """The value of a strategy option the caller did not give."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<the strategy's default>"


#: the default of ``seed``, ``depth`` and ``preemption_bound``: tells an option the
#: caller wrote (checked against the strategy) from one left out, whatever its value
_UNSET: Any = _Unset()


def _plans(patch: Any) -> tuple[PatchPlan, ...]:
    if patch is None:
        return ()
    targets = patch if isinstance(patch, (list, tuple)) else [patch]
    return tuple(PatchPlan(target) for target in targets)


@dataclass(frozen=True)
class ExploreOptions:
    """Validated options of an exploration (``explore``'s keyword arguments)."""

    strategy: str = "pct"
    runs: int | None = 1000
    seed: int | None = None
    depth: int = 3
    preemption_bound: int | None = 2
    time_budget: float | None = None
    max_steps: int = 20_000
    uncontrolled_timeout: float = 2.0
    thread_errors: str = "fail"
    patch: tuple[PatchPlan, ...] = ()
    granularity: str = "sync"
    #: an explicit trace= selection (None: the default one, resolved per scenario)
    trace: TraceSelection | None = None
    timers: str = "autojump"
    inject_cancel: int = 0
    #: what a data race in a passing exploration does: "ignore", "warn" or "error"
    races: str = "ignore"
    #: locations raced on on purpose, named as race reports name them: never reported
    benign: frozenset[str] = frozenset()

    @classmethod
    def create(
        cls,
        *,
        strategy: str = "pct",
        runs: int | None = 1000,
        seed: int | None = _UNSET,
        depth: int = _UNSET,
        preemption_bound: int | None = _UNSET,
        time_budget: float | None = None,
        max_steps: int = 20_000,
        uncontrolled_timeout: float = 2.0,
        thread_errors: str = "fail",
        patch: Any = (),
        granularity: str = _UNSET,
        trace: Any = None,
        timers: str = "autojump",
        inject_cancel: int = 0,
        races: str = _UNSET,
        benign: Any = (),
    ) -> ExploreOptions:
        """Check every argument, naming it and what is allowed when it is wrong.

        ``seed``, ``depth`` and ``preemption_bound`` are each read by some
        strategies only: one given to a strategy that does not read it is an
        error, not silently ignored.
        """
        if strategy not in STRATEGIES:
            valid = ", ".join(repr(name) for name in STRATEGIES)
            raise ValueError(f"strategy must be one of {valid}, got {strategy!r}")
        written = {"seed": seed, "depth": depth, "preemption_bound": preemption_bound}
        check_strategy_options(
            strategy, {name: value for name, value in written.items() if value is not _UNSET}
        )
        seed = cls.seed if seed is _UNSET else seed
        depth = cls.depth if depth is _UNSET else depth
        if granularity is _UNSET:
            # dpor needs to see memory accesses; the others keep to synchronisation points
            granularity = "memory" if strategy == "dpor" else cls.granularity
        if preemption_bound is _UNSET:
            # dpor's default is no bound: it covers every class of interleavings
            preemption_bound = None if strategy == "dpor" else cls.preemption_bound
        if runs is not None:
            check_count("runs", runs, minimum=1)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        check_count("depth", depth, minimum=1)
        if preemption_bound is not None:
            check_count("preemption_bound", preemption_bound, minimum=0)
        budget = (
            None
            if time_budget is None
            else check_seconds("time_budget", time_budget, allow_zero=False)
        )
        if runs is None and budget is None and strategy not in ("dfs", "dpor"):
            raise ValueError(
                "runs=None (no limit) needs a time_budget, or strategy='dfs' or 'dpor'"
            )
        if strategy == "dpor" and granularity != "memory":
            raise ValueError(
                "strategy='dpor' needs granularity='memory': it reorders only accesses that "
                f"conflict, and at granularity={granularity!r} it cannot see which do"
            )
        if strategy == "dpor" and timers == "choice":
            raise ValueError(
                "strategy='dpor' does not support timers='choice' yet: use strategy='dfs'"
            )
        check_count("max_steps", max_steps, minimum=1)
        if thread_errors not in ("fail", "ignore"):
            raise ValueError(f"thread_errors must be 'fail' or 'ignore', got {thread_errors!r}")
        _choice("granularity", granularity, GRANULARITIES)
        _choice("timers", timers, TIMER_MODES)
        check_count("inject_cancel", inject_cancel)
        races, benign_names = _race_options(strategy, races, benign)
        if trace is not None and granularity == "sync":
            raise ValueError(
                "trace= selects the code traced line by line: it needs granularity='line', "
                "'opcode' or 'memory'"
            )
        return cls(
            strategy=strategy,
            runs=runs,
            seed=seed,
            depth=depth,
            preemption_bound=preemption_bound,
            time_budget=budget,
            max_steps=max_steps,
            uncontrolled_timeout=check_seconds(
                "uncontrolled_timeout", uncontrolled_timeout, allow_zero=False
            ),
            thread_errors=thread_errors,
            patch=_plans(patch),
            granularity=granularity,
            trace=None if trace is None else TraceSelection.create(trace, None),
            timers=timers,
            inject_cancel=inject_cancel,
            races=races,
            benign=benign_names,
        )

    def run_settings(self, scenario: Scenario | None = None) -> RunSettings:
        """What the runs share; below sync granularity the default trace= is ``scenario``'s."""
        lines = None
        if self.granularity != "sync":
            selection = self.trace or TraceSelection.create(None, scenario)
            lines = LineTracing(selection, kind=self.granularity)
        return RunSettings(
            self.max_steps,
            self.uncontrolled_timeout,
            self.thread_errors,
            self.patch,
            timers=self.timers,
            lines=lines,
            inject_cancel=self.inject_cancel,
        )


RACE_MODES = ("ignore", "warn", "error")


def _race_options(strategy: str, races: Any, benign: Any) -> tuple[str, frozenset[str]]:
    """``races`` and ``benign`` checked: they read the happens-before order only dpor tracks."""
    if races is _UNSET:
        races = "warn" if strategy == "dpor" else "ignore"
    elif races not in RACE_MODES:
        valid = ", ".join(repr(mode) for mode in RACE_MODES)
        raise ValueError(f"races must be one of {valid}, got {races!r}")
    elif races != "ignore" and strategy != "dpor":
        raise ValueError(
            f"races={races!r} needs strategy='dpor': data races are found with the "
            "happens-before order its reduction tracks"
        )
    if isinstance(benign, str) or not isinstance(benign, (list, tuple, set, frozenset)):
        raise TypeError(
            "benign must be a list of locations such as ['Config.flag'], "
            f"got {type(benign).__name__}"
        )
    for name in benign:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                "benign: each location is named as race reports name it ('Config.flag', "
                f"'dict[items]', 'module.name'), got {name!r}"
            )
    if benign and strategy != "dpor":
        raise ValueError("benign= needs strategy='dpor': other strategies report no races")
    return races, frozenset(benign)


def with_session_defaults(
    options: Mapping[str, Any], *, runs: int | None, seed: int | None
) -> dict[str, Any]:
    """``options`` completed with session-wide defaults (None: none), each where it applies.

    A default fills an option the caller left out, and a seed only for a
    strategy that reads one: a session-wide seed must not turn every dfs
    exploration into an "option not used" error, which only options the
    caller wrote deserve.
    """
    completed = dict(options)
    if runs is not None:
        completed.setdefault("runs", runs)
    strategy = completed.get("strategy", ExploreOptions.strategy)
    if seed is not None and strategy in STRATEGIES and uses(strategy, "seed"):
        completed.setdefault("seed", seed)
    return completed


#: explore() options a replay has no use for: its token is the schedule (and the cancellations)
_EXPLORING_ONLY = frozenset(
    {
        "strategy",
        "runs",
        "seed",
        "depth",
        "preemption_bound",
        "time_budget",
        "inject_cancel",
        "races",
        "benign",
    }
)


def check_replay_options(options: Mapping[str, Any]) -> None:
    """Refuse exploring options given to a replay, which would silently ignore them."""
    unused = sorted(_EXPLORING_ONLY.intersection(options))
    if unused:
        raise TypeError(
            f"replay() does not take {', '.join(unused)}: the replay token fixes the schedule; "
            "these options belong to explore()"
        )


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        valid = ", ".join(repr(option) for option in allowed)
        raise ValueError(f"{name} must be one of {valid}, got {value!r}")


def _installed(settings: RunSettings) -> contextlib.AbstractContextManager[object]:
    """The line (opcode) tracer around an exploration's runs (nothing at sync granularity)."""
    return settings.lines if settings.lines is not None else contextlib.nullcontext()


def _token(choices: tuple[int, ...], tag: int, settings: RunSettings) -> str:
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


def _default_command(scenario: Scenario, token: str) -> str:
    return f'pytest_concurrency.replay({tokens.scenario_name(scenario)}, "{token}")'


def _command(scenario: Scenario, command: ReplayCommand | None, token: str) -> str:
    return command(token) if command is not None else _default_command(scenario, token)


def run_exploration(
    scenario: Scenario, options: ExploreOptions, *, command: ReplayCommand | None = None
) -> ExploreResult:
    """``explore`` with validated options; ``command`` formats the replay command line."""
    __tracebackhide__ = True  # pytest shows the user's frames, not ours
    scenarios.check(scenario)
    returned = scenarios.ReturnCheck(scenario)
    seed = options.seed if options.seed is not None else int.from_bytes(os.urandom(4), "big")
    #: the seed the result and a failure report (None for a strategy that reads none)
    reported_seed = seed if uses(options.strategy, "seed") else None
    strategy = make_strategy(
        options.strategy, seed=seed, depth=options.depth, preemption_bound=options.preemption_bound
    )
    settings = options.run_settings(scenario)
    started = _realtime.perf_counter()
    runs = 0
    distinct: set[int] = set()
    how = (
        f"seed {reported_seed}"
        if reported_seed is not None
        else f"preemption bound {options.preemption_bound}"
    )

    def replay_of(choices: tuple[int, ...]) -> tuple[str, str]:
        token = _token(choices, tokens.scenario_tag(scenario), settings)
        return token, _command(scenario, command, token)

    current = interrupted.InProgress(strategy.name, how, replay_of)
    #: the first passing run that raced on a location not marked benign, replayed traced
    racy: explain.Traced | None = None
    checked = 0
    with (
        _Exclusive(),
        _installed(settings),
        session_log.watching(strategy, options.runs) as log,
        interrupted.live(current),
    ):
        while options.runs is None or runs < options.runs:
            budget = options.time_budget
            if budget is not None and runs and _realtime.perf_counter() - started >= budget:
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
            runs += 1
            distinct.add(hash(result.choices))
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
        _check_memory_seen(strategy, runs, settings)
        if racy is not None:
            _report_races(scenario, racy, settings, options, command, strategy.name, runs)
    return ExploreResult(
        strategy=strategy.name,
        seed=reported_seed,
        schedules_run=runs,
        distinct_schedules=len(distinct),
        exhausted=strategy.exhausted,
        elapsed=_realtime.perf_counter() - started,
        equivalence_classes=getattr(strategy, "classes", None),
    )


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
    replayed = explain.traced(scenario, choices, settings)
    if replayed.result.failure is not None:
        return None
    conflicts = tuple(c for c in replayed.conflicts if c.what not in options.benign)
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
    token = _token(choices, tokens.scenario_tag(scenario), settings)
    replay_command = _command(scenario, command, token)
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
            f"run that schedule again with: {replay_command}",
        ]
        warnings.warn(DataRaceWarning("\n".join(lines)), stacklevel=4)
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
        command=replay_command,
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


def _check_memory_seen(strategy: ExplorationStrategy, runs: int, settings: RunSettings) -> None:
    """A reduction that saw no shared memory at all proves nothing about the code under test.

    It reorders conflicting accesses; with none in the traced code (the code
    under test lives in a library or package ``trace=`` does not cover) every
    run looks alike and the exploration would end, exhausted, after one.
    """
    if getattr(strategy, "memory_accesses", None) != 0:
        return
    lines = settings.lines
    covered = "" if lines is None else f" ({lines.selection!r})"
    raise ValueError(
        f"strategy='dpor' saw no access to shared memory in the traced code{covered} in "
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
    if failure.kind in ("nondeterministic", "mismatch"):
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
    token = _token(choices, tokens.scenario_tag(scenario), settings)
    if conflicts:
        notes.append("racing accesses (no lock, join or event orders them):")
        notes.extend(f"  {line}" for line in describe_conflicts(conflicts))
    if result.abandoned:
        notes.append(
            f"note: {', '.join(result.abandoned)} could not be stopped and were abandoned "
            "(daemon threads; they end at their next scheduling point)"
        )
    bound = options.preemption_bound
    how = (
        f"seed {seed}"
        if seed is not None
        else ("no preemption bound" if bound is None else f"preemption bound {bound}")
    )
    return build_failure(
        failure,
        token=token,
        trace=trace,
        found=f"found by strategy {strategy.name!r} ({how}) after {runs} schedule(s){fewest}",
        command=_command(scenario, command, token),
        strategy=strategy.name,
        seed=seed,
        schedules_run=runs,
        notes=tuple(notes),
        conflicts=conflicts,
        preemptions=preemptions,
    )


def explore(
    scenario: Scenario,
    *,
    strategy: str = "pct",
    runs: int | None = 1000,
    seed: int | None = _UNSET,
    depth: int = _UNSET,
    preemption_bound: int | None = _UNSET,
    time_budget: float | None = None,
    max_steps: int = 20_000,
    uncontrolled_timeout: float = 2.0,
    thread_errors: str = "fail",
    patch: Any = (),
    granularity: str = _UNSET,
    trace: Any = None,
    timers: str = "autojump",
    inject_cancel: int = 0,
    races: str = _UNSET,
    benign: Any = (),
) -> ExploreResult:
    """Run ``scenario`` under many schedules; raise InterleavingFailure on the first failing one.

    ``strategy``: "random", "pct" (with ``depth``, default 3) or "dfs" (exhaustive
    within ``preemption_bound`` preemptions, default 2). ``runs`` caps the
    schedules (None: no cap, needs ``time_budget`` unless dfs); ``time_budget``
    caps real seconds; ``seed`` makes random/pct reproducible (None, the
    default, picks one and reports it). Giving ``seed``, ``depth`` or
    ``preemption_bound`` to a strategy that does not read it is a ValueError.
    ``max_steps`` scheduling points per run turn a spin loop into a failure;
    ``uncontrolled_timeout`` real seconds without a scheduling point are an
    UncontrolledBlock. ``thread_errors="ignore"`` lets threads other than the
    scenario die of an exception without failing the run. ``patch``: modules or
    objects whose pre-existing locks, conditions, events, semaphores, barriers,
    and imported ``threading``/``time`` names are swapped for controlled ones.
    ``granularity="line"`` makes every line run in the ``trace``d code a
    scheduling point too (``trace``: modules, package names or paths; default:
    the scenario's file and the project's non-test code under the current
    directory). ``granularity="opcode"`` goes further: every bytecode instruction
    run in the traced code is a point, which splits a one-line read-modify-write
    such as ``self.value += 1``. ``timers="choice"`` makes a pending timeout firing an option at
    every scheduling point, not only when every thread is blocked.

    ``scenario`` may be a coroutine function: it then runs with ``asyncio.run``
    on a controlled event loop, where every ready task step is a choice (and
    so is every loop a sync scenario starts with ``asyncio.run``).
    ``inject_cancel=N`` lets a run throw ``CancelledError`` into up to N tasks
    at await points where they are about to resume, as one more choice.

    With ``strategy="dpor"``, two threads' accesses to one location, at least
    one a write, with nothing ordering them are a data race even when every
    schedule passes: ``races="warn"`` (dpor's default) emits a
    :class:`DataRaceWarning` naming both accesses, ``"error"`` raises
    :class:`DataRace`, ``"ignore"`` says nothing. ``benign=["Config.flag"]``
    marks locations raced on on purpose.
    """
    __tracebackhide__ = True  # pytest shows the user's frames, not ours
    options = ExploreOptions.create(
        strategy=strategy,
        runs=runs,
        seed=seed,
        depth=depth,
        preemption_bound=preemption_bound,
        time_budget=time_budget,
        max_steps=max_steps,
        uncontrolled_timeout=uncontrolled_timeout,
        thread_errors=thread_errors,
        patch=patch,
        granularity=granularity,
        trace=trace,
        timers=timers,
        inject_cancel=inject_cancel,
        races=races,
        benign=benign,
    )
    return run_exploration(scenario, options)


def token_matches(scenario: Scenario, token: str) -> bool:
    """True when ``token`` was recorded for a scenario with this name (token checked first)."""
    return tokens.decode(token).tag == tokens.scenario_tag(scenario)


def run_replay(
    scenario: Scenario,
    token: str,
    options: ExploreOptions,
    *,
    command: ReplayCommand | None = None,
) -> None:
    """``replay`` with validated options."""
    __tracebackhide__ = True  # pytest shows the user's frames, not ours
    scenarios.check(scenario)
    returned = scenarios.ReturnCheck(scenario)
    schedule = tokens.decode(token)
    if schedule.tag != tokens.scenario_tag(scenario):
        raise tokens.ReplayTokenError(
            f"this replay token was recorded for another scenario, not "
            f"{tokens.scenario_name(scenario)!r}"
        )
    # the token knows how many cancellations its runs could inject; a replay injects as many
    settings = replace(options.run_settings(scenario), inject_cancel=schedule.inject_cancel)
    schedule.check_replayable(
        granularity=options.granularity,
        timers=options.timers,
        trace_tag=None if settings.lines is None else settings.lines.selection.tag,
    )
    strategy = ReplayStrategy(schedule.choices)
    tracer = Tracer()
    with _Exclusive(), _installed(settings):
        result = run_schedule(returned.target, strategy, settings, tracer)
    failure = result.failure
    if failure is not None and failure.kind in ("mismatch", "nondeterministic"):
        raise tokens.ReplayTokenError(_mismatch(failure))
    if failure is not None:
        canonical = _token(result.choices, schedule.tag, settings)
        raise build_failure(
            failure,
            token=canonical,
            trace=tracer.trace(),
            found="replayed from its token",
            command=_command(scenario, command, canonical),
            strategy="replay",
            seed=None,
            schedules_run=1,
        )
    returned.check()
    if strategy.leftover:
        raise tokens.ReplayTokenError(
            _mismatch(
                RunFailure(
                    "mismatch",
                    f"the scenario finished with {strategy.leftover} of the token's "
                    f"{len(schedule.choices)} choices unused",
                )
            )
        )


def _mismatch(failure: RunFailure) -> str:
    return (
        f"the replay token does not fit this scenario: {failure.summary} (was it recorded for "
        "another version of the code, or is the scenario not deterministic?)"
    )


def replay(
    scenario: Scenario,
    token: str,
    *,
    max_steps: int = 20_000,
    uncontrolled_timeout: float = 2.0,
    thread_errors: str = "fail",
    patch: Any = (),
    granularity: str | None = None,
    trace: Any = None,
    timers: str | None = None,
) -> None:
    """Re-run exactly the schedule of ``token``; raise InterleavingFailure (traced) if it fails.

    ``granularity`` and ``timers`` default to the ones the token recorded; a
    line- or opcode-level token also needs the exploration's ``trace`` (if it gave one)
    and the same Python version. A malformed token, one recorded for another
    scenario or with other settings, raises :class:`~.token.ReplayTokenError`.
    """
    __tracebackhide__ = True  # pytest shows the user's frames, not ours
    scenarios.check(scenario)
    schedule = tokens.decode(token)
    options = ExploreOptions.create(
        max_steps=max_steps,
        uncontrolled_timeout=uncontrolled_timeout,
        thread_errors=thread_errors,
        patch=patch,
        granularity=schedule.granularity if granularity is None else granularity,
        trace=trace,
        timers=schedule.timers if timers is None else timers,
    )
    run_replay(scenario, token, options)


def patch_current_run(target: object) -> bool:
    """Inside a run, swap ``target``'s primitives for the rest of that run; False outside one."""
    sched = controlling_scheduler()
    if sched is None:
        return False
    PatchPlan(target).apply(sched.run_patcher, sched)
    return True


def checkpoint(name: str = "") -> None:
    """An explicit scheduling point (named in traces); does nothing outside a run."""
    if not isinstance(name, str):
        raise TypeError(f"checkpoint(name): name must be a str, got {type(name).__name__}")
    sched = controlling_scheduler()
    if sched is not None:
        sched.point("checkpoint", name or None)


__all__ += ["InterleavingFailure"]
