"""OrderedTurnstile with seed 002a's bugs put back."""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator
from typing import TypeVar

from pytest_concurrency.demo.contracts_demo import NoTurnstile
from reference_impl import OrderedTurnstile

from . import mutant

K = TypeVar("K", bound=Hashable)


class EarlyCompleteLost(OrderedTurnstile[K]):
    """An early return's complete(key), made before the key's turn, is dropped (seed-like head
    check)."""

    def complete(self, key: K) -> None:
        if self._order.position(key) > self._order.head:
            return  # the bug: only the key whose turn it is may complete
        super().complete(key)


class ExceptionSkipsRelease(OrderedTurnstile[K]):
    """turn() completes only when its body finishes normally: an exception keeps the turn."""

    @contextlib.contextmanager
    def turn(self, key: K, timeout: float | None = None) -> Iterator[bool]:
        yield self.wait_turn(key, timeout)
        self.complete(key)  # the bug: not in a finally


class NoFailOpen(OrderedTurnstile[K]):
    """wait_turn ignores its timeout: a crashed earlier key blocks everyone for good."""

    def wait_turn(self, key: K, timeout: float | None = None) -> bool:
        turn, _ = self._turn_event(key, timeout)
        turn.wait()  # the bug: no timeout, no fail-open
        return True


class CompleteCountedTwice(OrderedTurnstile[K]):
    """complete() counts calls, not keys: completing one key twice skips the next."""

    def complete(self, key: K) -> None:
        with self._lock:
            head = self._order.head
            if head < len(self._order):
                released = self._order.complete(self._order_key(head))  # the bug
            else:
                released = range(0)
        for position in released:
            self._turns[position].set()

    def _order_key(self, position: int) -> K:
        return next(k for k, p in self._order._position.items() if p == position)


MUTANTS = (
    mutant(
        NoTurnstile,
        "seed 002a original",
        "no turnstile: parallel segments merge in whatever order they finish",
        "test_steps_run_in_key_order",
        "test_an_exception_releases_the_turn",
        "test_a_key_that_never_waits_can_complete_early",
        "test_waiting_fails_open_after_the_timeout",
        "test_a_late_completion_still_passes_the_turn",
        "test_complete_is_idempotent",
    ),
    mutant(
        EarlyCompleteLost,
        "seed 002a review",
        "early return skips the release: a complete() before the key's turn is lost",
        "test_a_key_that_never_waits_can_complete_early",
        "test_a_late_completion_still_passes_the_turn",
    ),
    mutant(
        ExceptionSkipsRelease,
        "seed 002a review",
        "an exception inside turn() skips the release",
        "test_an_exception_releases_the_turn",
    ),
    mutant(
        NoFailOpen,
        "seed 002a review",
        "no fail-open: a crashed earlier key deadlocks the followers",
        "test_waiting_fails_open_after_the_timeout",
        "test_a_late_completion_still_passes_the_turn",
        "test_complete_is_idempotent",
    ),
    mutant(
        CompleteCountedTwice,
        "issue 5 residual",
        "complete() is not idempotent: completing a key twice releases the next",
        "test_complete_is_idempotent",
    ),
)
