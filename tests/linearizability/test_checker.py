"""The history checker alone: real-time order, outcomes, exceptions, memoisation keys."""

from __future__ import annotations

from typing import Any

from pytest_concurrency.linearizability.checker import check_history
from pytest_concurrency.linearizability.history import Entry, Outcome, draw
from pytest_concurrency.linearizability.scenario import Call
from pytest_concurrency.linearizability.state import NO_KEY, state_key


class Register:
    def __init__(self) -> None:
        self.value = 0

    def write(self, value: int) -> None:
        self.value = value

    def read(self) -> int:
        return self.value


CALLS: dict[str, Any] = {
    "write": lambda r, value: r.write(value),
    "read": lambda r: r.read(),
}


def entry(
    index: int, thread: str, name: str, args: tuple[Any, ...], value: Any, span: tuple[int, int]
) -> Entry:
    return Entry(index, thread, Call(name, args), Outcome(value=value), *span)


def test_an_overlapping_read_may_see_the_write() -> None:
    history = [
        entry(0, "T1", "write", (1,), None, (1, 4)),
        entry(1, "T2", "read", (), 1, (2, 3)),
    ]
    verdict = check_history(history, Register, CALLS)
    assert verdict.linearizable
    assert [e.call.name for e in verdict.order or ()] == ["write", "read"]


def test_a_read_after_the_write_returned_must_see_it() -> None:
    history = [
        entry(0, "T1", "write", (1,), None, (1, 2)),
        entry(1, "T2", "read", (), 0, (3, 4)),
    ]
    verdict = check_history(history, Register, CALLS)
    assert not verdict.linearizable
    assert [r.entry.call.name for r in verdict.refusals] == ["read"]
    assert verdict.refusals[0].model_outcome.value == 1


def test_exceptions_match_by_type_and_args() -> None:
    assert Outcome(error=KeyError("a")).matches(Outcome(error=KeyError("a")))
    assert not Outcome(error=KeyError("a")).matches(Outcome(error=KeyError("b")))
    assert not Outcome(error=KeyError("a")).matches(Outcome(value=None))
    assert not Outcome(value=None).matches(Outcome(error=KeyError("a")))


def test_plain_data_states_have_keys_and_others_none() -> None:
    register = Register()
    assert state_key(register, None) == state_key(Register(), None)
    register.write(3)
    assert state_key(register, None) != state_key(Register(), None)
    register.value = object()  # type: ignore[assignment]
    assert state_key(register, None) is NO_KEY
    assert state_key(register, lambda r: 7) == (True, 7)


def test_memoisation_skips_repeated_states() -> None:
    # four overlapping writes of the same value and a read that no order explains
    history = [entry(i, f"T{i}", "write", (1,), None, (1 + i, 20)) for i in range(4)]
    history.append(entry(4, "T4", "read", (), 5, (10, 21)))
    keyed = check_history(history, Register, CALLS)
    unkeyed = check_history(history, Register, CALLS, key=lambda r: object())
    assert not keyed.linearizable and not unkeyed.linearizable
    assert keyed.model_calls < unkeyed.model_calls


def test_the_drawing_has_one_column_per_thread() -> None:
    history = [
        entry(0, "T1", "write", (1,), None, (1, 4)),
        entry(1, "T2", "read", (), 1, (2, 3)),
    ]
    lines = draw(history).splitlines()
    assert lines[0].split() == ["T1", "T2"]
    assert lines[1].split() == ["1", "write(1)", "..."]
    assert lines[2].index("read()") > lines[1].index("write(1)")
    assert lines[4].split() == ["4", "->", "None"]
