"""The operations a user declares: a name, a callable ``(subject, *args)``, argument strategies.

``check_linearizable`` takes them as a mapping ``name -> callable`` or
``name -> (callable, strategy, ...)``; this module checks that shape once and
turns it into :class:`Operation` records, so that a wrong entry is an error
naming the operation before any scenario runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis.strategies import SearchStrategy


@dataclass(frozen=True)
class Operation:
    """One declared operation: ``call(subject, *args)`` with one strategy per extra argument."""

    name: str
    call: Callable[..., Any]
    arguments: tuple[SearchStrategy[Any], ...]


def declared(operations: object) -> tuple[Operation, ...]:
    """``operations`` as records; TypeError/ValueError naming the entry that is wrong."""
    if not isinstance(operations, Mapping):
        raise TypeError(
            "operations must be a mapping of name -> callable(subject, *args) or "
            f"(callable, strategy, ...), got {type(operations).__name__}"
        )
    if not operations:
        raise ValueError("operations must declare at least one operation")
    found: list[Operation] = []
    for name, entry in operations.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"operations: every name must be a non-empty str, got {name!r}")
        parts = tuple(entry) if isinstance(entry, tuple) else (entry,)
        call, strategies = parts[0], parts[1:]
        if not callable(call):
            raise TypeError(
                f"operations[{name!r}] must be a callable(subject, *args) or a tuple "
                f"(callable, strategy, ...), got {type(call).__name__}"
            )
        for position, strategy in enumerate(strategies, 1):
            if not isinstance(strategy, SearchStrategy):
                raise TypeError(
                    f"operations[{name!r}]: argument {position} needs a Hypothesis strategy "
                    f"(for example st.integers()), got {type(strategy).__name__}"
                )
        found.append(Operation(name, call, strategies))
    return tuple(found)
