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
from pytest_concurrency.world.lines import GRANULARITIES, LineTracing
from pytest_concurrency.world.patching import PatchPlan
from pytest_concurrency.world.runner import RunSettings
from pytest_concurrency.world.selection import TraceSelection
from pytest_concurrency.world.shards import Shard, check_shard
from pytest_concurrency.world.strategies import STRATEGIES, check_strategy_options, uses
from pytest_concurrency.world.timers import TIMER_MODES

__all__ = [
    "RACE_MODES",
    "UNSET",
    "ExploreOptions",
    "Scenario",
    "check_replay_options",
    "with_session_defaults",
]

Scenario = Callable[[], object]


class _Unset:
    """The value of a strategy option the caller did not give."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<the strategy's default>"


#: the default of ``seed``, ``depth`` and ``preemption_bound``: tells an option the
#: caller wrote (checked against the strategy) from one left out, whatever its value
UNSET: Any = _Unset()


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
    #: the part of the space this exploration covers (None: all of it; see .shards)
    shard: Shard | None = None

    @classmethod
    def create(
        cls,
        *,
        strategy: str = "pct",
        runs: int | None = 1000,
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
        error, not silently ignored.
        """
        if strategy not in STRATEGIES:
            valid = ", ".join(repr(name) for name in STRATEGIES)
            raise ValueError(f"strategy must be one of {valid}, got {strategy!r}")
        written = {"seed": seed, "depth": depth, "preemption_bound": preemption_bound}
        check_strategy_options(
            strategy, {name: value for name, value in written.items() if value is not UNSET}
        )
        seed = cls.seed if seed is UNSET else seed
        depth = cls.depth if depth is UNSET else depth
        if granularity is UNSET:
            # dpor needs to see memory accesses; the others keep to synchronisation points
            granularity = "memory" if strategy == "dpor" else cls.granularity
        if preemption_bound is UNSET:
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
            shard=check_shard(shard),
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
        "shard",
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
