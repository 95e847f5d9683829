"""An interrupt anywhere in an exploration leaves no thread parked and no global patched.

Ctrl-C or a test timeout's signal reaches the coordinator -- the thread that
called ``explore`` -- at any moment, most often while it waits in a run's
cleanup for the controlled threads to unwind. Two ways to land one there (see
:mod:`interrupt_storm`): signals at random real moments, and a KeyboardInterrupt
raised at each instruction of the coordinator's own code in turn. The full
versions (1,000 random interrupts, every instruction) take a minute or more:
set ``PYTEST_CONCURRENCY_SLOW=1`` to run them.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable

import interrupt_storm
import pytest

WorldState = Callable[[], dict[str, object]]

slow = pytest.mark.skipif(
    not os.environ.get("PYTEST_CONCURRENCY_SLOW"), reason="slow: set PYTEST_CONCURRENCY_SLOW=1"
)
main_thread_only = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals reach the main thread only",
)


def _storm(count: int, world_state: WorldState) -> None:
    tally = interrupt_storm.storm(count, world_state)
    assert tally.interrupted, f"no interrupt landed inside an exploration: {tally}"
    assert not tally.left_threads and not tally.left_globals, f"{tally}\n" + "\n".join(
        tally.problems
    )


def _inject_every(stride: int, world_state: WorldState) -> int:
    injected = 0
    problems = interrupt_storm.Tally()
    for at in itertools.count(0, stride):
        aftermath = interrupt_storm.Aftermath(world_state)
        if not interrupt_storm.inject(at):
            break
        injected += 1
        aftermath.record(problems, f"interrupt at instruction {at}")
    assert not problems.problems, "\n".join(problems.problems)
    return injected


@main_thread_only
def test_random_interrupts_leave_no_thread_and_no_patch(world_state: WorldState) -> None:
    _storm(100, world_state)


def test_an_interrupt_at_every_37th_instruction_of_the_coordinator(
    world_state: WorldState,
) -> None:
    injected = _inject_every(37, world_state)
    assert injected > 50, f"only {injected} instructions: the injection hit little"


@slow
@main_thread_only
def test_a_thousand_random_interrupts_leave_nothing_behind(world_state: WorldState) -> None:
    _storm(1000, world_state)


@slow
def test_an_interrupt_at_each_instruction_of_the_coordinator(world_state: WorldState) -> None:
    assert _inject_every(1, world_state) > 1000
