"""check_linearizable on real objects: no false alarm on correct ones; racy ones caught, shrunk."""

from __future__ import annotations

import pickle
import queue
import threading
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from subjects import (
    CheckThenCreateRegistry,
    CheckThenPopQueue,
    LoadedOnce,
    LockedDeque,
    RacyCounter,
    SequentialRegistry,
    total,
)

import pytest_concurrency as pc
from reference_impl.single_flight import BuildOnceCache, SingleFlight

#: derandomized: the same scenarios every run (CI must not depend on luck)
FEW = settings(max_examples=30, database=None, derandomize=True)


def get_or_none(q: queue.Queue[int]) -> int | None:
    try:
        return q.get_nowait()
    except queue.Empty:
        return None


def test_the_stdlib_queue_is_linearizable() -> None:
    result = pc.check_linearizable(
        lambda: queue.Queue(),
        {"put": (lambda q, x: q.put(x), st.integers(0, 3)), "get": get_or_none},
        settings=FEW,
    )
    assert result.exhausted
    assert result.scenarios > 1 and result.schedules_run >= result.scenarios


def test_a_locked_deque_is_linearizable_three_threads() -> None:
    result = pc.check_linearizable(
        LockedDeque,
        {
            "append": (lambda d, x: d.append(x), st.integers(0, 2)),
            "popleft": lambda d: d.popleft_or_none(),
        },
        threads=3,
        ops_per_thread=1,
        prefix=1,
        settings=settings(max_examples=8, database=None, derandomize=True),
    )
    assert result.exhausted


def test_build_once_cache_is_linearizable() -> None:
    result = pc.check_linearizable(
        lambda: BuildOnceCache(lambda key: key * 10),
        {"get": (lambda cache, key: cache.get(key), st.integers(0, 1))},
        model=LoadedOnce,
        ops_per_thread=1,
        settings=settings(max_examples=6, database=None, derandomize=True),
    )
    assert result.exhausted


class CallsEachTime:
    """Single flight's sequential model: one caller at a time, each runs its function."""

    def do(self, key: int, fn: Any) -> Any:
        return fn()

    def forget(self, key: int) -> None:
        pass


def test_single_flight_is_linearizable() -> None:
    """Callers of one key that share a flight get that key's value, and ``forget`` between
    or during flights changes no caller's result: never another key's, never an error."""
    result = pc.check_linearizable(
        SingleFlight,
        {
            "do": (lambda flight, key: flight.do(key, lambda: key * 10), st.integers(0, 1)),
            "forget": (lambda flight, key: flight.forget(key), st.integers(0, 1)),
        },
        model=CallsEachTime,
        ops_per_thread=1,
        settings=settings(max_examples=8, database=None, derandomize=True),
    )
    assert result.exhausted


class OneFlightForEveryKey(SingleFlight):
    def do(self, key: Any, fn: Any) -> Any:
        return super().do("every key", fn)


def test_a_flight_shared_across_keys_is_caught() -> None:
    with pytest.raises(pc.NotLinearizable):
        pc.check_linearizable(
            OneFlightForEveryKey,
            {"do": (lambda flight, key: flight.do(key, lambda: key * 10), st.integers(0, 1))},
            model=CallsEachTime,
            ops_per_thread=1,
            settings=settings(max_examples=20, database=None, derandomize=True),
        )


def test_the_lost_update_is_caught_and_shrunk_to_two_increments() -> None:
    with pytest.raises(pc.NotLinearizable) as caught:
        pc.check_linearizable(RacyCounter, {"increment": lambda c: c.increment()}, settings=FEW)
    failure = caught.value
    assert total(failure.operations) == 2
    assert isinstance(failure, pc.InterleavingFailure)
    assert failure.token.startswith("pc1.")
    # both increments returned the same count: no sequential order gives that
    first, second = (entry.outcome.value for entry in failure.history)
    assert first == second
    message = str(failure)
    # the history's thread labels are the trace's thread names
    assert {entry.thread for entry in failure.history} == {"T1", "T2"}
    assert "T1 (operations)" in message and "T2 (operations)" in message
    assert message.splitlines()[0].endswith(
        "no sequential order of these operations gives these results"
    )
    assert "T1" in message and "T2" in message
    assert f"increment() returned {first}, but run then it returns" in message


def test_check_then_pop_is_caught() -> None:
    with pytest.raises(pc.NotLinearizable) as caught:
        pc.check_linearizable(
            CheckThenPopQueue,
            {"put": (lambda q, x: q.put(x), st.integers(0, 1)), "take": lambda q: q.take()},
            prefix=1,
            settings=FEW,
        )
    failure = caught.value
    # one item put, two takers racing for it
    calls = [
        str(call)
        for call in [*failure.prefix, *(call for column in failure.operations for call in column)]
    ]
    assert sorted(calls) == ["put(0)", "take()", "take()"]
    assert "take() raised IndexError('pop from empty list'), but run then it returns None" in str(
        failure
    )


def test_check_then_create_is_caught_against_a_model() -> None:
    with pytest.raises(pc.NotLinearizable) as caught:
        pc.check_linearizable(
            CheckThenCreateRegistry,
            {"get_or_create": (lambda r, key: r.get_or_create(key), st.sampled_from("ab"))},
            model=SequentialRegistry,
            settings=FEW,
        )
    failure = caught.value
    assert total(failure.operations) == 2
    assert {str(column[0]) for column in failure.operations} == {"get_or_create('a')"}


def test_the_locked_twin_of_the_counter_passes() -> None:
    class LockedCounter(RacyCounter):
        def __init__(self) -> None:
            super().__init__()
            self.lock = threading.Lock()

        def increment(self) -> int:
            with self.lock:
                return super().increment()

    result = pc.check_linearizable(
        LockedCounter, {"increment": lambda c: c.increment()}, settings=FEW
    )
    assert result.exhausted


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"operations": [("inc", len)]}, TypeError, "operations must be a mapping"),
        ({"operations": {}}, ValueError, "at least one operation"),
        ({"operations": {"inc": 3}}, TypeError, "operations['inc'] must be a callable"),
        ({"operations": {"put": (len, [1, 2])}}, TypeError, "argument 1 needs a Hypothesis"),
        ({"threads": 0}, ValueError, "threads must be >= 1"),
        ({"ops_per_thread": "2"}, TypeError, "ops_per_thread must be an int"),
        ({"model": 3}, TypeError, "model must be None or a callable"),
        ({"settings": {"max_examples": 3}}, TypeError, "settings must be a hypothesis.settings"),
        ({"strategy": "bfs"}, ValueError, "strategy must be one of"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], error: type[Exception], text: str) -> None:
    arguments: dict[str, Any] = {"operations": {"inc": lambda c: c.increment()}, **kwargs}
    with pytest.raises(error, match=text.replace("[", r"\[").replace("(", r"\(")):
        pc.check_linearizable(RacyCounter, arguments.pop("operations"), **arguments)


def test_the_hypothesis_settings_apply() -> None:
    result = pc.check_linearizable(
        LockedDeque,
        {"append": (lambda d, x: d.append(x), st.integers(0, 2))},
        settings=settings(max_examples=3, database=None, derandomize=True),
    )
    assert 1 <= result.scenarios <= 3


def test_a_failure_pickles_with_its_scenario_and_history() -> None:
    with pytest.raises(pc.NotLinearizable) as caught:
        pc.check_linearizable(
            RacyCounter,
            {"increment": lambda c: c.increment()},
            key=lambda c: c.value,
            settings=FEW,
        )
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is pc.NotLinearizable
    assert copy.operations == caught.value.operations
    assert copy.history == caught.value.history
    assert copy.token == caught.value.token and str(copy) == str(caught.value)
