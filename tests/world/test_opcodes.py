"""Opcode granularity: a one-line read-modify-write split between its read and its write."""

from __future__ import annotations

import inspect
import threading

import pytest

from pytest_concurrency.demo.zoo import plain_lost_update
from pytest_concurrency.world import token as tokens
from pytest_concurrency.world.api import ExploreOptions, explore, replay
from pytest_concurrency.world.lines import LineTracing, python_version
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.runner import run_schedule
from pytest_concurrency.world.selection import TraceSelection
from pytest_concurrency.world.strategies import make_strategy, uses
from pytest_concurrency.world.token import ReplayTokenError

#: schedules each strategy may spend (seed 1 needs 1, 6 and 45-69 today, by Python version)
BUDGET = {"random": 50, "pct": 50, "dfs": 150}

_INCREMENT_LINE = inspect.getsourcelines(plain_lost_update.Counter.increment)[1] + 1


def _found(granularity: str = "opcode", **options: object) -> InterleavingFailure:
    with pytest.raises(InterleavingFailure) as info:
        explore(plain_lost_update.buggy, granularity=granularity, **options)  # type: ignore[arg-type]
    return info.value


def test_granularity_and_trace_are_validated() -> None:
    with pytest.raises(ValueError, match=r"granularity must be one of 'sync', 'line', 'opcode'"):
        explore(lambda: None, granularity="bytecode")
    with pytest.raises(ValueError, match=r"needs granularity='line', 'opcode' or 'memory'"):
        explore(lambda: None, granularity="sync", trace=[plain_lost_update])
    with pytest.raises(ValueError, match=r"kind must be one of \('line', 'opcode', 'memory'\)"):
        LineTracing(TraceSelection.create([plain_lost_update], None), kind="instruction")


@pytest.mark.parametrize("strategy", sorted(BUDGET))
def test_every_strategy_splits_a_plain_increment_at_opcode_granularity(strategy: str) -> None:
    failure = _found(
        strategy=strategy, runs=BUDGET[strategy], **({"seed": 1} if uses(strategy, "seed") else {})
    )
    assert failure.schedules_run <= BUDGET[strategy]
    assert "left the counter at 1" in str(failure.__cause__)
    trace = str(failure.trace)
    # an opcode step names its instruction and shows its line's source and file:line
    assert "STORE_ATTR: self.value += 1" in trace
    assert f"plain_lost_update.py:{_INCREMENT_LINE}" in trace


def test_line_granularity_cannot_split_the_one_line_increment() -> None:
    result = explore(
        plain_lost_update.buggy, strategy="dfs", preemption_bound=2, runs=5000, granularity="line"
    )
    assert result.exhausted  # every schedule within two preemptions passed
    assert result.schedules_run > 1  # its lines were points, each run whole


def test_the_locked_twin_survives_exhaustive_dfs_at_opcode_granularity() -> None:
    result = explore(
        plain_lost_update.fixed,
        strategy="dfs",
        preemption_bound=2,
        runs=5000,
        granularity="opcode",
    )
    assert result.exhausted
    assert result.schedules_run > 100  # instructions really were points


def test_an_opcode_token_carries_the_python_version_and_replays_exactly() -> None:
    failure = _found(strategy="pct", runs=BUDGET["pct"], seed=1, trace=[plain_lost_update])
    schedule = tokens.decode(failure.token)
    assert schedule.granularity == "opcode"
    assert schedule.python == python_version()
    again = tokens.encode(
        schedule.choices, schedule.tag, "opcode", trace_tag=schedule.trace_tag or 0
    )
    assert again == failure.token
    first_line = str(failure.__cause__).splitlines()[0]
    for _ in range(5):  # the granularity comes from the token
        with pytest.raises(InterleavingFailure) as replayed:
            replay(plain_lost_update.buggy, failure.token, trace=[plain_lost_update])
        assert replayed.value.token == failure.token
        assert str(replayed.value.__cause__).splitlines()[0] == first_line


def test_a_token_of_another_granularity_or_python_is_refused() -> None:
    token = _found(strategy="random", runs=BUDGET["random"], seed=1).token
    with pytest.raises(ReplayTokenError, match="granularity='opcode', not 'line'"):
        replay(plain_lost_update.buggy, token, granularity="line")
    tag = tokens.scenario_tag(plain_lost_update.buggy)
    line_token = tokens.encode([1, 2], tag, "line")
    with pytest.raises(ReplayTokenError, match="granularity='line', not 'opcode'"):
        replay(plain_lost_update.buggy, line_token, granularity="opcode")
    other = (python_version()[0], python_version()[1] + 1)
    old = tokens.encode([1, 2], tag, "opcode", python=other)
    with pytest.raises(ReplayTokenError, match=r"opcode-level replay token was recorded on Python"):
        replay(plain_lost_update.buggy, old)


def test_the_settrace_backend_delivers_opcodes_too() -> None:
    """The default backend before 3.12; forced here so 3.12+ checks it as well."""
    settings = ExploreOptions.create(granularity="opcode").run_settings(plain_lost_update.buggy)
    assert settings.lines is not None and settings.lines.kind == "opcode"
    forced = type(settings)(
        settings.max_steps,
        settings.uncontrolled_timeout,
        settings.thread_errors,
        settings.patch_plans,
        lines=LineTracing(settings.lines.selection, "settrace", kind="opcode"),
    )
    strategy = make_strategy("random", seed=1, depth=3, preemption_bound=2)
    failures = []
    hook = getattr(threading, "_trace_hook", None)
    with forced.lines:  # type: ignore[union-attr]
        for _ in range(BUDGET["random"]):
            strategy.begin_run()
            result = run_schedule(plain_lost_update.buggy, strategy, forced)
            strategy.end_run(len(result.choices))
            if result.failure is not None:
                failures.append(result.failure.summary)
                break
    assert failures and "left the counter at 1" in failures[0]
    assert getattr(threading, "_trace_hook", None) is hook  # each run's hook was restored
