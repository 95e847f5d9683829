"""Argument checks for the public API: counts, seconds and timeouts, one piece of code each.

Bad input must fail where it is written, with the argument's name and what is
allowed, instead of surfacing later as a hang, an odd count or an error deep
inside the library. ``bool`` is refused wherever a number is expected:
``release(True)`` or ``result(timeout=True)`` is almost always a slip, not a
request for one permit or one second.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_count(name: str, value: Any, *, minimum: int = 0) -> int:
    """Return ``value`` if it is an ``int`` >= ``minimum``, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {_described(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_seconds(
    name: str, value: Any, *, allow_zero: bool = True, allow_negative: bool = False
) -> float:
    """Return ``value`` as a float if it is a finite number of seconds, else raise.

    At least 0 (``allow_zero``) or above 0, or any finite value with
    ``allow_negative`` (a point on a clock rather than a duration). Infinity is
    refused on purpose: every wait in the library is bounded, and "no limit"
    is spelled ``None`` where it is allowed at all.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds, got {_described(value)}")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if allow_negative:
        return seconds
    if seconds < 0 or (seconds == 0 and not allow_zero):
        lowest = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {lowest}, got {value!r}")
    return seconds


def check_timeout(name: str, value: Any) -> float | None:
    """A ``timeout=`` argument: None (wait as long as it takes) or finite seconds >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be None or a number of seconds, got {_described(value)}")
    return check_seconds(name, value)


def _described(value: object) -> str:
    """A wrong-typed value as a message shows it: its type, then its repr (``str '1'``)."""
    return f"{type(value).__name__} {value!r}"
