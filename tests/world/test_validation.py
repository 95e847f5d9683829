"""Nothing passes silently: options a strategy or scenario does not use, scenarios no run
could execute, and bad timeouts are clear errors before (or instead of) a pass."""

from __future__ import annotations

import asyncio
import functools
import math
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from pytest_concurrency.world.api import ExploreOptions, explore, replay, spawn
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.strategies import STRATEGY_OPTIONS
from pytest_concurrency.world.token import encode, scenario_tag

pytest_plugins = ["pytester"]


def _nothing() -> None:
    pass


# -- options the chosen strategy does not read ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "unused"),
    [
        ({"strategy": "pct", "preemption_bound": 1}, "preemption_bound=1"),
        ({"seed": 1}, "seed=1"),  # dpor is the default strategy
        ({"depth": 4}, "depth=4"),
        ({"strategy": "dfs", "depth": 5}, "depth=5"),
        ({"strategy": "dfs", "seed": 5}, "seed=5"),
        ({"strategy": "dfs", "seed": None}, "seed=None"),  # written, even as the default value
        ({"strategy": "random", "depth": 3}, "depth=3"),
        ({"strategy": "random", "preemption_bound": 2}, "preemption_bound=2"),
    ],
)
def test_an_option_the_strategy_does_not_read_is_an_error(
    options: dict[str, Any], unused: str
) -> None:
    strategy = options.get("strategy", "dpor")
    with pytest.raises(ValueError, match=f"strategy='{strategy}' does not use {unused}") as info:
        explore(_nothing, runs=1, **options)
    assert "remove it, or choose a strategy that uses it" in str(info.value)
    # the caller who wrote no strategy is told which one the default is
    assert ("explore() with no strategy= uses strategy='dpor'" in str(info.value)) == (
        "strategy" not in options
    )


def test_the_message_names_every_unused_option_and_who_reads_them() -> None:
    with pytest.raises(ValueError) as info:
        explore(_nothing, strategy="random", depth=4, preemption_bound=1)
    message = str(info.value)
    assert "depth=4 (read by strategy 'pct')" in message
    assert "preemption_bound=1 (read by strategy 'dfs' and 'dpor')" in message
    assert "remove them" in message
    assert "strategy='random' reads seed" in message


@pytest.mark.parametrize("strategy", sorted(STRATEGY_OPTIONS))
def test_every_option_a_strategy_reads_is_accepted(strategy: str) -> None:
    values = {"seed": 3, "depth": 2, "preemption_bound": 1}
    given = {name: values[name] for name in STRATEGY_OPTIONS[strategy]}
    # dpor proves nothing about a scenario touching no memory (it refuses that): give it some
    scenario = _touches_memory if strategy == "dpor" else _nothing
    assert explore(scenario, strategy=strategy, runs=1, **given).schedules_run == 1


def _touches_memory() -> None:
    box = {"n": 0}
    box["n"] += 1


def test_defaults_are_not_options_given() -> None:
    for strategy in STRATEGY_OPTIONS:
        options = ExploreOptions.create(strategy=strategy)
        bound = None if strategy == "dpor" else 2  # dpor covers every class: no bound
        assert (options.seed, options.depth, options.preemption_bound) == (None, 3, bound)


def test_the_replay_options_are_not_checked_against_a_strategy() -> None:
    token = encode([], scenario_tag(_nothing))
    replay(_nothing, token)  # no strategy, no strategy option: nothing to refuse


# -- inject_cancel needs an asyncio event loop ----------------------------------------------


def _threads_only() -> None:
    worker = threading.Thread(target=_nothing)
    worker.start()
    worker.join()


def test_inject_cancel_on_a_scenario_that_runs_no_event_loop_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"inject_cancel=1 needs an asyncio scenario") as info:
        explore(_threads_only, strategy="random", runs=50, inject_cancel=1)
    assert "ran no asyncio event loop" in str(info.value)


def test_inject_cancel_is_fine_on_a_sync_scenario_that_runs_a_loop() -> None:
    async def main() -> None:
        await asyncio.gather(asyncio.sleep(0), asyncio.sleep(0), return_exceptions=True)

    def scenario() -> None:
        asyncio.run(main())

    result = explore(scenario, strategy="random", runs=20, seed=1, inject_cancel=1)
    assert result.schedules_run == 20


def test_inject_cancel_is_fine_on_a_coroutine_scenario() -> None:
    async def scenario() -> None:
        await asyncio.sleep(0)

    assert explore(scenario, strategy="random", runs=5, seed=1, inject_cancel=1).schedules_run == 5


def test_a_failure_found_before_any_loop_is_still_reported() -> None:
    def scenario() -> None:
        raise AssertionError("broken before any loop")

    with pytest.raises(InterleavingFailure, match="broken before any loop"):
        explore(scenario, strategy="random", runs=5, inject_cancel=1)


# -- the same through pytest: session defaults apply only where the strategy reads them ------


def test_a_session_seed_does_not_break_dfs_or_the_default_but_a_written_one_does(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_seeds="""
import pytest

def scenario():
    pass

def test_dfs_fixture(interleavings):
    assert interleavings.explore(scenario, strategy="dfs").exhausted

def test_random_fixture(interleavings):
    assert interleavings.explore(scenario, strategy="random").seed == 5

@pytest.mark.interleavings(strategy="dfs")
def test_dfs_marker():
    pass

@pytest.mark.interleavings(strategy="dfs", seed=1)
def test_dfs_marker_with_a_seed():
    pass

def test_dfs_fixture_with_a_seed(interleavings):
    interleavings.explore(scenario, strategy="dfs", seed=1)

def racy_box():
    box = {"n": 0}
    box["n"] += 1

def test_default_fixture(interleavings):
    result = interleavings.explore(racy_box)
    assert (result.strategy, result.seed, result.exhausted) == ("dpor", None, True)

@pytest.mark.interleavings
def test_default_marker():
    racy_box()

@pytest.mark.interleavings(granularity="sync")
def test_default_at_sync_granularity_samples_with_the_seed():
    racy_box()

def test_default_sampler_reads_the_seed(interleavings):
    assert interleavings.explore(racy_box, granularity="line").seed == 5
"""
    )
    result = pytester.runpytest("--interleavings-seed=5", "--interleavings-runs=3")
    result.assert_outcomes(passed=7, failed=2)
    output = result.stdout.str()
    assert output.count("strategy='dfs' does not use seed=1") >= 2, output


# -- scenarios no run could execute ----------------------------------------------------------


def _generator() -> Iterator[int]:
    yield 1
    raise AssertionError("never reached")


async def _async_generator() -> AsyncIterator[int]:
    yield 1


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        (_generator, "a generator"),
        (_async_generator, "an async generator"),
        (functools.partial(_generator), "a generator"),
    ],
)
def test_a_generator_function_is_not_a_scenario(scenario: Any, kind: str) -> None:
    match = f"scenario is {kind} function: its body would never run"
    with pytest.raises(TypeError, match=match):
        explore(scenario, runs=1)
    with pytest.raises(TypeError, match=match):
        replay(scenario, encode([], scenario_tag(scenario)))


def _needs(first: int, second: int = 2, *rest: int, third: int, **more: int) -> None:
    pass


class _NeedsArgs:
    def __init__(self, size: int) -> None:
        self.size = size


@pytest.mark.parametrize(
    ("scenario", "missing"),
    [
        (lambda x: None, "needs x:"),
        (_needs, "needs first, third:"),
        (_NeedsArgs, "needs size:"),
        (functools.partial(_needs, 1), "needs third:"),
    ],
)
def test_a_scenario_that_needs_arguments_is_a_type_error_before_any_run(
    scenario: Any, missing: str
) -> None:
    with pytest.raises(TypeError, match=f"is called with no arguments, but it {missing}"):
        explore(scenario, runs=5)
    with pytest.raises(TypeError, match=missing):
        replay(scenario, encode([], scenario_tag(scenario)))


@pytest.mark.parametrize(
    "scenario",
    [
        lambda x=1: None,
        lambda *args, **kwargs: None,
        functools.partial(_needs, 1, third=3),
        print,  # a builtin: its signature is readable and needs nothing
        dict,  # a builtin class whose signature cannot be read: the call decides
    ],
)
def test_callables_without_required_arguments_are_scenarios(scenario: Any) -> None:
    assert explore(scenario, strategy="random", runs=1).schedules_run == 1


async def _main() -> None:
    raise AssertionError("never reached: the coroutine is never awaited")


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        (lambda: _main(), "a coroutine"),
        (lambda: _generator(), "a generator"),
        (lambda: _async_generator(), "an async generator"),
    ],
)
def test_a_scenario_that_returns_its_body_unrun_is_a_type_error(scenario: Any, kind: str) -> None:
    with pytest.raises(TypeError, match=f"returned {kind} without running it") as info:
        explore(scenario, strategy="random", runs=5)
    assert "explore(main), not explore(lambda: main())" in str(info.value)
    with pytest.raises(TypeError, match=f"returned {kind} without running it"):
        replay(scenario, encode([], scenario_tag(scenario)))


def test_a_scenario_may_return_other_values() -> None:
    assert explore(lambda: 42, strategy="random", runs=2).schedules_run == 2


# -- timeouts of spawn handles ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "error", "match"),
    [
        (True, TypeError, "timeout must be None or a number of seconds, got bool True"),
        ("1", TypeError, "timeout must be None or a number of seconds, got str '1'"),
        (-1, ValueError, "timeout must be a finite number of seconds >= 0, got -1"),
        (math.nan, ValueError, "timeout must be a finite number of seconds, got nan"),
        (math.inf, ValueError, "timeout must be a finite number of seconds, got inf"),
    ],
)
@pytest.mark.parametrize("method", ["join", "result"])
def test_spawn_handle_timeouts_are_checked(
    method: str, timeout: Any, error: type[Exception], match: str
) -> None:
    handle = spawn(_nothing)
    try:
        with pytest.raises(error, match=match):
            getattr(handle, method)(timeout=timeout)
    finally:
        handle.join(5)
    assert handle.result(timeout=0) is None
    assert handle.result(timeout=None) is None


@pytest.mark.parametrize("name", ["time_budget", "uncontrolled_timeout"])
@pytest.mark.parametrize(
    ("value", "error"), [(math.inf, ValueError), (math.nan, ValueError), (True, TypeError)]
)
def test_exploration_timeouts_are_finite_seconds(name: str, value: float, error: type) -> None:
    # an infinite uncontrolled_timeout would let a blocked run hang for ever
    with pytest.raises(error, match=name):
        explore(_nothing, runs=1, **{name: value})


def test_the_fixture_s_replay_refuses_exploring_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_replays="""
from pytest_concurrency.world.token import encode, scenario_tag

def scenario():
    pass

def test_replay_with_a_seed(interleavings):
    interleavings.replay(scenario, encode([], scenario_tag(scenario)), seed=3, runs=5)

def test_plain_replay(interleavings):
    interleavings.replay(scenario, encode([], scenario_tag(scenario)))
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*TypeError: replay() does not take runs, seed: the replay token*"]
    )
