"""Argument checks shared by the gated fakes.

Bad input must fail where it is written, with the argument's name and what is
allowed, instead of surfacing later as a hang or an odd count. ``bool`` is
rejected wherever a number is expected: ``release(True)`` is almost always a
typo, not a request for one permit.
"""

from __future__ import annotations

import math
from typing import Any


def check_count(name: str, value: Any) -> int:
    """Return ``value`` if it is an ``int`` >= 0, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_seconds(name: str, value: Any, *, allow_zero: bool) -> float:
    """Return ``value`` as a float if it is a finite number of seconds, else raise.

    Infinity is refused on purpose: every wait in the library is bounded.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    lowest = ">= 0" if allow_zero else "> 0"
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number of seconds {lowest}, got {value!r}")
    return seconds
