"""The explorer's public functions: ``explore``, ``replay``, ``spawn``, ``checkpoint``.

``explore`` runs a zero-argument scenario once per schedule, each time in a
fresh controlled world, until a schedule fails (raising
:class:`~.report.InterleavingFailure` with a trace and a replay token), the run
count or time budget is spent, or -- for ``dfs`` and ``dpor`` -- the space is
exhausted. The work is done by :mod:`.options` (checking the arguments),
:mod:`.exploration` (the loop) and :mod:`.replaying` (one schedule from a
token); this module is the signatures users call, and the names other modules
imported from it before it was split.
"""

from __future__ import annotations

from typing import Any

from pytest_concurrency.world import scenarios
from pytest_concurrency.world.exploration import ExploreResult, run_exploration
from pytest_concurrency.world.options import (
    UNSET,
    ExploreOptions,
    Scenario,
    check_replay_options,
    with_session_defaults,
    with_token_settings,
)
from pytest_concurrency.world.patching import PatchPlan
from pytest_concurrency.world.replaying import run_replay, token_matches
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.scheduler import controlling_scheduler
from pytest_concurrency.world.threads import SpawnHandle, spawn

__all__ = [
    "ExploreOptions",
    "ExploreResult",
    "InterleavingFailure",
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
    "with_token_settings",
]

#: the name this module gave the "not given" marker before the split (kept for importers)
_UNSET: Any = UNSET


def explore(
    scenario: Scenario,
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
    shard: tuple[int, int] | None = None,
) -> ExploreResult:
    """Run ``scenario`` under many schedules; raise InterleavingFailure on the first failing one.

    With no options, ``strategy="dpor"`` at ``granularity="memory"``: every
    access to shared memory in the traced code is a scheduling point, and
    the reduction runs one schedule per class of interleavings that order
    conflicting accesses differently, until every class has run (the result
    is then ``exhausted``) or ``runs`` schedules have (default 10,000, a
    safety net: the result is then not exhausted, and a
    :class:`NotExhaustedWarning` says that the pass proves nothing).
    ``preemption_bound`` (dpor: default None, no bound) skips the classes
    needing more preemptions. Where the reduction cannot be used, the default
    strategy is another one and the result names it: ``"pct"`` when
    ``granularity`` is not "memory", ``"dfs"`` (preemption bound 2) for
    ``timers="choice"``. asyncio task steps are reduced like threads' events.

    ``strategy``: "dpor", "random", "pct" (with ``depth``, default 3) or "dfs"
    (exhaustive within ``preemption_bound`` preemptions, default 2). ``runs``
    caps the schedules (random, pct, dfs: default 1000; None: no cap, needs
    ``time_budget`` unless dfs or dpor); ``time_budget`` caps real seconds;
    ``seed`` makes random/pct reproducible (None, the default, picks one and
    reports it). Giving ``seed``, ``depth`` or ``preemption_bound`` to a
    strategy that does not read it is a ValueError.
    ``max_steps`` scheduling points per run turn a spin loop into a failure;
    ``uncontrolled_timeout`` real seconds without a scheduling point are an
    UncontrolledBlock. ``thread_errors="ignore"`` lets threads other than the
    scenario die of an exception without failing the run. ``patch``: modules or
    objects whose pre-existing locks, conditions, events, semaphores, barriers,
    and imported ``threading``/``time`` names are swapped for controlled ones.
    ``granularity``: "memory" (the default with dpor), "sync" (only
    synchronisation operations are scheduling points; the default of the
    other strategies), "line" (every line run in the traced code too) or
    "opcode" (every bytecode instruction, which splits a one-line
    read-modify-write such as ``self.value += 1``). ``trace``: the code traced
    below sync granularity (modules, package names or paths; default: the
    scenario's file and the project's non-test code under the current
    directory, never installed libraries). ``timers="choice"`` makes a pending
    timeout firing an option at every scheduling point, not only when every
    thread is blocked.

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

    ``shard=(index, count)`` explores part ``index`` of ``count`` of the space,
    so that ``count`` processes (or hosts) can share one exploration: ``dfs``
    and ``dpor`` split the schedule tree (together the parts cover everything
    the unsharded exploration covers), ``random`` and ``pct`` draw from
    disjoint seed streams; ``runs`` is the budget of all the parts together,
    ``time_budget`` that of each. A failure's replay token replays without
    ``shard``.
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
        shard=shard,
    )
    return run_exploration(scenario, options)


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
    settings = with_token_settings({"granularity": granularity, "timers": timers}, token)
    options = ExploreOptions.create(
        max_steps=max_steps,
        uncontrolled_timeout=uncontrolled_timeout,
        thread_errors=thread_errors,
        patch=patch,
        trace=trace,
        **settings,
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
