"""The stand-ins of the explorer and of the fake clock check arguments exactly like the stdlib.

One argument-checking path (``pytest_concurrency._stdlib.args``) serves both,
so the same call is accepted or refused the same way -- same exception, same
message -- by the C primitive, by the controlled one in a run and by the fake
clock's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pytest_concurrency import FakeClock, _harness, explore
from pytest_concurrency._clock import harness as clock_harness
from pytest_concurrency.leaks import stacks
from pytest_concurrency.leaks import threads as leak_threads

NAN, INF = float("nan"), float("inf")
LOCK_CALLS: list[tuple[bool, Any]] = [
    (False, 1),
    (True, -2),
    (True, -1),
    (False, -1),
    (True, 0),
    (True, NAN),
    (True, INF),
    (True, "1"),
]
GET_CALLS: list[tuple[bool, Any]] = [
    (False, -1),
    (True, -1),
    (True, 0),
    (False, None),
    (True, NAN),
    (True, "1"),
]


def _outcome(method: Callable[..., object], *args: object) -> tuple[object, str]:
    try:
        return ("returned", repr(method(*args)))
    except Exception as error:
        return (type(error), str(error))


def _lock_outcomes() -> list[tuple[object, str]]:
    return [_outcome(threading.Lock().acquire, *call) for call in LOCK_CALLS]


def _get_outcomes() -> list[tuple[object, str]]:
    empty: Callable[[], Any] = queue.SimpleQueue
    return [_outcome(empty().get, *call) for call in GET_CALLS]


def _in_a_run(collect: Callable[[], list[tuple[object, str]]]) -> list[tuple[object, str]]:
    seen: list[list[tuple[object, str]]] = []
    explore(lambda: seen.append(collect()), runs=1)
    return seen[0]


def _under_fake_clock(collect: Callable[[], list[tuple[object, str]]]) -> list[tuple[object, str]]:
    with FakeClock():
        return collect()


@pytest.mark.parametrize("where", [_in_a_run, _under_fake_clock], ids=["explore", "fake_clock"])
@pytest.mark.parametrize("collect", [_lock_outcomes, _get_outcomes], ids=["Lock", "SimpleQueue"])
def test_stand_ins_accept_and_refuse_like_the_stdlib(
    where: Callable[[Callable[[], list[tuple[object, str]]]], list[tuple[object, str]]],
    collect: Callable[[], list[tuple[object, str]]],
) -> None:
    assert where(collect) == collect()


def test_one_list_of_harness_packages() -> None:
    """The clock's real-time modules and the leak checker's harness threads: one list."""
    assert clock_harness.HARNESS_PACKAGES is _harness.HARNESS_PACKAGES
    assert set(leak_threads.HARNESS_PACKAGES) <= _harness.HARNESS_PACKAGES
    assert set(_harness.RUNNER_PACKAGES) <= _harness.HARNESS_PACKAGES
    assert stacks._RUNNER_PACKAGES == _harness.RUNNER_PACKAGES
