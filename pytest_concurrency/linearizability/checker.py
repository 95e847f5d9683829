"""Is a history linearizable? Wing and Gong's search, memoised as in Lowe (2017).

The search builds a sequential order one operation at a time. The next
operation may be any one not yet placed that no unplaced operation precedes
in real time (responded before it was invoked; a thread's own operations are
ordered that way too). Replaying the order on a fresh model must give each
operation the outcome it had in the history. A dead end (this set placed, the
model in this state) is remembered and never searched again.

The model is rebuilt by replaying the order from a fresh one, never copied:
a model holding locks or other objects cannot be copied safely, and at the
sizes scenarios have (a dozen operations) replaying costs little.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_concurrency.linearizability.history import Entry, Outcome
from pytest_concurrency.linearizability.state import NO_KEY, state_key


@dataclass(frozen=True)
class Refusal:
    """Why no operation could come next after ``order``: what the model answered instead."""

    entry: Entry
    model_outcome: Outcome


@dataclass
class Verdict:
    """The search's answer: a linearization, or the deepest dead end it reached."""

    order: tuple[Entry, ...] | None
    #: for a failure: the longest order every operation of which matched
    deepest: tuple[Entry, ...] = ()
    #: for a failure: each operation that could have come next there, and the model's answer
    refusals: tuple[Refusal, ...] = ()
    #: model operations run by the search
    model_calls: int = 0

    @property
    def linearizable(self) -> bool:
        return self.order is not None


@dataclass
class _Search:
    history: Sequence[Entry]
    fresh: Callable[[], Any]
    calls: Mapping[str, Callable[..., Any]]
    key: Callable[[Any], Hashable] | None
    dead: set[tuple[int, object]] = field(default_factory=set)
    deepest: tuple[Entry, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    model_calls: int = 0

    def replayed(self, order: Sequence[Entry]) -> Any:
        model = self.fresh()
        for entry in order:
            self.apply(model, entry)
        return model

    def apply(self, model: Any, entry: Entry) -> Outcome:
        self.model_calls += 1
        call = self.calls[entry.call.name]
        return Outcome.of(lambda: call(model, *entry.call.args))

    def candidates(self, placed: int) -> list[Entry]:
        pending = [entry for entry in self.history if not placed >> entry.index & 1]
        return [
            entry
            for entry in pending
            if not any(other.responded < entry.invoked for other in pending)
        ]

    def search(self, order: tuple[Entry, ...], placed: int) -> tuple[Entry, ...] | None:
        if len(order) == len(self.history):
            return order
        refused: list[Refusal] = []
        for entry in self.candidates(placed):
            model = self.replayed(order)
            outcome = self.apply(model, entry)
            if not outcome.matches(entry.outcome):
                refused.append(Refusal(entry, outcome))
                continue
            now = placed | 1 << entry.index
            key = state_key(model, self.key)
            if key is not NO_KEY and (now, key) in self.dead:
                continue
            found = self.search((*order, entry), now)
            if found is not None:
                return found
            if key is not NO_KEY:
                self.dead.add((now, key))
        if len(order) >= len(self.deepest) and refused:
            self.deepest, self.refusals = order, tuple(refused)
        return None


def check_history(
    history: Sequence[Entry],
    fresh: Callable[[], Any],
    calls: Mapping[str, Callable[..., Any]],
    *,
    key: Callable[[Any], Hashable] | None = None,
) -> Verdict:
    """Search a sequential order of ``history`` that ``fresh()`` models explain.

    ``history``'s entries must be numbered ``0..n-1`` (their ``index``).
    """
    search = _Search(history, fresh, calls, key)
    order = search.search((), 0)
    return Verdict(order, search.deepest, search.refusals, search.model_calls)
