"""Memoisation keys for model states: exact, or none at all.

The checker remembers the (linearized operations, model state) pairs it
already found to be dead ends (Lowe, "Testing for linearizability", 2017).
Two states may share a key only if they behave the same from then on, so a
key must never be coarser than the state. The rule:

- ``key=`` given: ``key(model)`` is the state (it must be hashable);
- otherwise, when the model's ``__getstate__()`` (by default its attributes)
  holds only plain data -- None, bool, int, float, str, bytes, and tuples,
  lists, dicts, sets and deques of plain data -- that data is the key;
- otherwise (a lock, an object of a class of yours) there is no key: the
  search is still exact, it only cannot skip repeated states.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

#: no key for this state: never memoised
NO_KEY: object = object()

_ATOMS = (type(None), bool, int, float, str, bytes)


class _NotPlain(Exception):
    """A value that is not plain data."""


def _plain(value: Any) -> Hashable:
    if isinstance(value, _ATOMS):
        return (type(value).__name__, value)
    if isinstance(value, (tuple, list, deque)):
        return (type(value).__name__, tuple(_plain(item) for item in value))
    if isinstance(value, (set, frozenset)):
        # iteration order is kept: set.pop() follows it
        return (type(value).__name__, tuple(_plain(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple((_plain(k), _plain(v)) for k, v in value.items()))
    raise _NotPlain


def state_key(model: object, key: Callable[[Any], Hashable] | None) -> object:
    """The memoisation key of ``model``'s state, or :data:`NO_KEY`."""
    if key is not None:
        return (True, key(model))
    getstate = getattr(model, "__getstate__", None)
    try:
        state = getstate() if getstate is not None else vars(model)
    except Exception:
        return NO_KEY
    try:
        return (type(model), _plain(state))
    except _NotPlain:
        return NO_KEY
