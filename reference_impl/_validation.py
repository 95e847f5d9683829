"""Argument checks shared by the guards.

A guard that accepts a negative delay or an unhashable key fails much later, as
a janitor that never sleeps or a ``TypeError`` deep inside a dict lookup. Each
check here fails at the call that was wrong, naming the argument and saying what
is allowed. ``bool`` is refused wherever a number is expected: ``per_key=True``
is a typo, not a request for one worker.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any


def require_hashable(name: str, value: object) -> None:
    """Raise ``TypeError`` naming ``name`` unless ``value`` can be a dict key."""
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"{name} must be hashable, got an unhashable {type(value).__name__}: {value!r}"
        ) from None


def require_callable(name: str, value: object) -> None:
    """Raise ``TypeError`` naming ``name`` unless ``value`` is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r}")


def require_seconds(name: str, value: Any, *, finite: bool = True) -> float:
    """Return ``value`` as a float if it is a number of seconds >= 0, else raise.

    ``finite=True`` (the default) also refuses infinity: a real-time wait of
    ``inf`` overflows ``Condition.wait`` and defeats the point of a bound.
    Durations only used in arithmetic (a dedup window, a maximum age) may pass
    ``finite=False`` so that ``math.inf`` can mean "never expires".
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if math.isnan(seconds) or seconds < 0 or (finite and math.isinf(seconds)):
        kind = "a finite number" if finite else "a number"
        raise ValueError(f"{name} must be {kind} of seconds >= 0, got {value!r}")
    return seconds


def require_positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an ``int`` >= 1, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def require_unique_keys(name: str, keys: Sequence[Hashable]) -> None:
    """Raise ``ValueError`` naming ``name`` if ``keys`` repeats a key."""
    seen: set[Hashable] = set()
    for key in keys:
        require_hashable(f"every key in {name}", key)
        if key in seen:
            raise ValueError(f"{name} must not repeat a key, got {key!r} twice")
        seen.add(key)
