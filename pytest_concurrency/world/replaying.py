"""Replaying one schedule from its token: exactly the choices it records, traced.

A token says which scenario it was recorded for and with which settings
(granularity, timers, traced code, Python version where that matters); one
that does not fit is a :class:`~.token.ReplayTokenError`, never a different
run. A replay that fails is reported like an exploration's failure, with the
canonical token of the schedule that ran.
"""

from __future__ import annotations

from dataclasses import replace

from pytest_concurrency.world import scenarios
from pytest_concurrency.world import token as tokens
from pytest_concurrency.world.exploration import (
    ReplayCommand,
    exclusive,
    replay_command,
    replay_token,
    tracing,
)
from pytest_concurrency.world.options import ExploreOptions, Scenario
from pytest_concurrency.world.report import build_failure
from pytest_concurrency.world.runner import run_schedule
from pytest_concurrency.world.scheduler import RunFailure
from pytest_concurrency.world.strategies import ReplayStrategy
from pytest_concurrency.world.trace import Tracer

__all__ = ["run_replay", "token_matches"]


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
    with exclusive(), tracing(settings):
        result = run_schedule(returned.target, strategy, settings, tracer)
    failure = result.failure
    if failure is not None and failure.kind in ("mismatch", "nondeterministic"):
        raise tokens.ReplayTokenError(_mismatch(failure))
    if failure is not None:
        canonical = replay_token(result.choices, schedule.tag, settings)
        raise build_failure(
            failure,
            token=canonical,
            trace=tracer.trace(),
            found="replayed from its token",
            command=replay_command(scenario, command, canonical),
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
