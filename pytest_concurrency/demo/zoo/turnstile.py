"""An ordered turnstile whose early return skips the release of the turn.

Segments are processed in parallel but take turns, in key order, for one
serialized step. A silent segment returns early; in the buggy version that
return skips ``complete(key)``, so every later segment waits for a turn that
never comes. The fixed version completes its turn in ``finally``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Turnstile:
    """Lets keys through one at a time, in the order given."""

    def __init__(self, keys: list[int]) -> None:
        self._pending = sorted(keys)
        self._cond = threading.Condition()

    def wait_turn(self, key: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._pending[0] == key)

    def complete(self, key: int) -> None:
        with self._cond:
            self._pending.remove(key)
            self._cond.notify_all()


def buggy_segment(turnstile: Turnstile, key: int, silent: bool, out: list[int]) -> None:
    turnstile.wait_turn(key)
    if silent:
        return  # BUG: the turn is never completed
    out.append(key)
    turnstile.complete(key)


def fixed_segment(turnstile: Turnstile, key: int, silent: bool, out: list[int]) -> None:
    turnstile.wait_turn(key)
    try:
        if silent:
            return
        out.append(key)
    finally:
        turnstile.complete(key)


def _three_segments(segment: Callable[[Turnstile, int, bool, list[int]], None]) -> None:
    turnstile = Turnstile([1, 2, 3])
    out: list[int] = []
    others = [
        threading.Thread(target=segment, args=(turnstile, key, key == 1, out), name=f"seg{key}")
        for key in (2, 1)
    ]
    for thread in others:
        thread.start()
    segment(turnstile, 3, False, out)  # the scenario's thread is seg3
    for thread in others:
        thread.join()
    assert out == [2, 3]


def buggy() -> None:
    _three_segments(buggy_segment)


def fixed() -> None:
    _three_segments(fixed_segment)
