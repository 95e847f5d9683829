"""The options of an exploration, checked once: ``explore()``'s keyword arguments as values.

Every argument is validated here, with an error naming it and what is allowed;
an option the chosen strategy does not read is refused rather than ignored
(see :func:`~.strategies.check_strategy_options`). Session-wide defaults (the
command line's ``--interleavings-runs``/``--interleavings-seed``) are merged in
only where they apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_concurrency._checks import check_count, check_seconds
from pytest_concurrency.world import token as tokens
from pytest_concurrency.world.lines import GRANULARITIES, LineTracing
from pytest_concurrency.world.patching import PatchPlan
from pytest_concurrency.world.runner import RunSettings
from pytest_concurrency.world.selection import TraceSelection
from pytest_concurrency.world.shards import Shard, check_shard
from pytest_concurrency.world.strategies import STRATEGIES, check_strategy_options, uses
from pytest_concurrency.world.timers import TIMER_MODES

__all__ = [
    "DEFAULT_RUNS",
    "DEFAULT_STRATEGY",
    "RACE_MODES",
    "UNSET",
    "ExploreOptions",
    "Scenario",
    "check_replay_options",
    "default_strategy",
    "with_session_defaults",
    "with_token_settings",
]

Scenario = Callable[[], object]


class _Unset:
    """The value of a strategy option the caller did not give."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<the strategy's default>"


#: the default of the options whose default depends on others (``strategy``, ``runs``,
#: ``seed``, ``depth``, ``preemption_bound``, ``granularity``, ``races``): tells an option
#: the caller wrote (checked against the strategy) from one left out, whatever its value
UNSET: Any = _Unset()

#: the strategy of an exploration that names none: the reduction, at memory granularity
DEFAULT_STRATEGY = "dpor"
#: the strategy of an exploration that names none but asks for a granularity other than
#: "memory", at which the reduction cannot tell which accesses conflict
SAMPLING_STRATEGY = "pct"
#: the strategy of an exploration that names none, when the reduction cannot cover what the
#: scenario does (timers="choice"): exhaustive within a preemption bound
BOUNDED_STRATEGY = "dfs"

#: the run cap of an exploration that gives no ``runs``, by strategy. dpor's is a safety
#: net, not a sample size: it stops there only when the space has more equivalence
#: classes than that, and then says it is not exhausted (a pass is no proof)
DEFAULT_RUNS: dict[str, int] = {"dpor": 10_000, "dfs": 1000, "pct": 1000, "random": 1000}


def _plans(patch: Any) -> tuple[PatchPlan, ...]:
    if patch is None:
        return ()
    targets = patch if isinstance(patch, (list, tuple)) else [patch]
    return tuple(PatchPlan(target) for target in targets)


@dataclass(frozen=True)
class ExploreOptions:
    """Validated options of an exploration (``explore``'s keyword arguments)."""

    strategy: str = DEFAULT_STRATEGY
    runs: int | None = DEFAULT_RUNS[DEFAULT_STRATEGY]
    seed: int | None = None
    depth: int = 3
    preemption_bound: int | None = None
    time_budget: float | None = None
    max_steps: int = 20_000
    uncontrolled_timeout: float = 2.0
    thread_errors: str = "fail"
    patch: tuple[PatchPlan, ...] = ()
    granularity: str = "memory"
    #: an explicit trace= selection (None: the default one, resolved per scenario)
    trace: TraceSelection | None = None
    timers: str = "autojump"
    inject_cancel: int = 0
    #: what a data race in a passing exploration does: "ignore", "warn" or "error"
    races: str = "warn"
    #: locations raced on on purpose, named as race reports name them: never reported
    benign: frozenset[str] = frozenset()
    #: the names of the options the caller wrote (the others took their defaults)
    given: frozenset[str] = frozenset()
    #: the part of the space this exploration covers (None: all of it; see .shards)
    shard: Shard | None = None

    @classmethod
    def create(
        cls,
        *,
        strategy: str = UNSET,
        runs: int | None = UNSET,
        seed: int | None = UNSET,
        depth: int = UNSET,
        preemption_bound: int | None = UNSET,
        time_budget: float | None = None,
        max_steps: int = 20_000,
        uncontrolled_timeout: float = 2.0,
        thread_errors: str = "fail",
        patch: Any = (),
        granularity: str = UNSET,
        trace: Any = None,
        timers: str = "autojump",
        inject_cancel: int = 0,
        races: str = UNSET,
        benign: Any = (),
        shard: Any = None,
    ) -> ExploreOptions:
        """Check every argument, naming it and what is allowed when it is wrong.

        ``seed``, ``depth`` and ``preemption_bound`` are each read by some
        strategies only: one given to a strategy that does not read it is an
        error, not silently ignored. With no ``strategy``, the reduction
        (``"dpor"``) explores at memory granularity; see :func:`default_strategy`
        for what it is when the reduction cannot be used.
        """
        written = {
            "strategy": strategy,
            "runs": runs,
            "seed": seed,
            "depth": depth,
            "preemption_bound": preemption_bound,
            "granularity": granularity,
            "races": races,
        }
        given = frozenset(name for name, value in written.items() if value is not UNSET)
        if benign != ():
            given |= {"benign"}
        if strategy is UNSET:
            strategy = default_strategy(granularity, timers)
        elif strategy not in STRATEGIES:
            valid = ", ".join(repr(name) for name in STRATEGIES)
            raise ValueError(f"strategy must be one of {valid}, got {strategy!r}")
        _check_strategy_options(strategy, written, defaulted="strategy" not in given)
        seed = cls.seed if seed is UNSET else seed
        depth = cls.depth if depth is UNSET else depth
        runs = DEFAULT_RUNS[strategy] if runs is UNSET else runs
        if granularity is UNSET:
            # dpor needs to see memory accesses, and a default exploration sees them whatever
            # its strategy; a strategy the caller named keeps to synchronisation points
            granularity = "memory" if strategy == "dpor" or "strategy" not in given else "sync"
        if preemption_bound is UNSET:
            # dpor's default is no bound: it covers every class of interleavings
            preemption_bound = None if strategy == "dpor" else 2
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
            given=given,
            shard=check_shard(shard),
        )

    @property
    def default_cap(self) -> bool:
        """True when ``runs`` is the strategy's default cap, not one the caller chose."""
        return "runs" not in self.given and self.runs == DEFAULT_RUNS[self.strategy]

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


def default_strategy(granularity: str, timers: str) -> str:
    """The strategy of an exploration that names none.

    The reduction (dpor) at memory granularity; but a granularity other than
    memory hides which accesses conflict, so there the old sampler (pct) runs,
    and timers="choice", which the reduction does not order yet, gets the
    bounded exhaustive dfs.
    """
    if granularity is not UNSET and granularity != "memory":
        return SAMPLING_STRATEGY
    if timers == "choice":
        return BOUNDED_STRATEGY
    return DEFAULT_STRATEGY


def _check_strategy_options(strategy: str, written: Mapping[str, Any], *, defaulted: bool) -> None:
    """Refuse the strategy options written that ``strategy`` does not read.

    When the caller named no strategy, the error says which one the default is,
    since the caller never wrote it.
    """
    given = {name: value for name, value in written.items() if value is not UNSET}
    try:
        check_strategy_options(strategy, given)
    except ValueError as error:
        if not defaulted:
            raise
        raise ValueError(
            f"explore() with no strategy= uses strategy={strategy!r}: {error}"
        ) from None


RACE_MODES = ("ignore", "warn", "error")


def _race_options(strategy: str, races: Any, benign: Any) -> tuple[str, frozenset[str]]:
    """``races`` and ``benign`` checked: they read the happens-before order only dpor tracks."""
    if races is UNSET:
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
    strategy = completed.get("strategy") or default_strategy(
        completed.get("granularity", UNSET), completed.get("timers", "autojump")
    )
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
        "shard",
    }
)


def with_token_settings(options: Mapping[str, Any], token: str) -> dict[str, Any]:
    """A replay's ``options`` with the granularity and timers its token recorded, unless given.

    A replay runs the token's schedule: with settings other than those it was
    recorded with, it is refused (see :meth:`~.token.Schedule.check_replayable`).
    """
    schedule = tokens.decode(token)
    completed = {key: value for key, value in options.items() if value is not None}
    completed.setdefault("granularity", schedule.granularity)
    completed.setdefault("timers", schedule.timers)
    return completed


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
