"""Scenarios: a sequential prefix, concurrent columns (one per thread), a sequential suffix.

Hypothesis draws them and shrinks them: fewer operations first (a column may
shrink to nothing), then the first declared operation, then simpler arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from pytest_concurrency.linearizability.operations import Operation


@dataclass(frozen=True)
class Call:
    """One operation of a scenario, with its drawn arguments."""

    name: str
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(repr(arg) for arg in self.args)})"


@dataclass(frozen=True)
class Scenario:
    """What runs: ``prefix`` alone, then ``columns`` concurrently, then ``suffix`` alone."""

    prefix: tuple[Call, ...]
    columns: tuple[tuple[Call, ...], ...]
    suffix: tuple[Call, ...]

    def threads(self) -> tuple[tuple[Call, ...], ...]:
        """The columns that have operations: thread ``T1`` runs the first, and so on."""
        return tuple(column for column in self.columns if column)

    def __len__(self) -> int:
        return len(self.prefix) + sum(map(len, self.columns)) + len(self.suffix)

    def __repr__(self) -> str:
        def show(calls: Sequence[Call]) -> str:
            return "[" + ", ".join(map(str, calls)) + "]"

        parts = [f"threads={[show(column) for column in self.columns]}"]
        if self.prefix:
            parts.insert(0, f"prefix={show(self.prefix)}")
        if self.suffix:
            parts.append(f"suffix={show(self.suffix)}")
        return "Scenario(" + ", ".join(parts).replace("'[", "[").replace("]'", "]") + ")"


def calls(operations: Sequence[Operation]) -> st.SearchStrategy[Call]:
    """One operation with its arguments; shrinks toward the first declared operation."""
    return st.one_of([st.tuples(*op.arguments).map(_maker(op.name)) for op in operations])


def _maker(name: str) -> Callable[[tuple[Any, ...]], Call]:
    def make(args: tuple[Any, ...]) -> Call:
        return Call(name, args)

    return make


def scenarios(
    operations: Sequence[Operation], *, threads: int, ops_per_thread: int, prefix: int, suffix: int
) -> st.SearchStrategy[Scenario]:
    """Scenarios of at most this shape (each part may shrink to fewer operations)."""
    call = calls(operations)
    column = st.lists(call, max_size=ops_per_thread).map(tuple)
    return st.builds(
        Scenario,
        st.lists(call, max_size=prefix).map(tuple),
        st.tuples(*[column] * threads),
        st.lists(call, max_size=suffix).map(tuple),
    )
