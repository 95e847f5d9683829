"""``OrderedTurnstileContract``: parallel work, one step serialised in key order.

The original bug: in an offline-sync pipeline, backlog audio segments were
processed in parallel and each created its own conversation; the fix serialises
the lookup-create-merge step in timestamp order with a turnstile. Its review
asked for the rest: an early return (a silent segment) and an exception must
release the turn, the wait must fail open after a timeout instead of
deadlocking, and a late completion must still pass the turn on.

Timeouts run on the explorer's virtual time: a 30-second fail-open costs
nothing, and "returned after exactly 5 s" is checked exactly.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Hashable, Iterable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

from pytest_concurrency.contracts._base import Contract, abstract_subject
from pytest_concurrency.contracts._support import ContractError, outcome_of, start

__all__ = ["OrderedTurnstileContract"]

KEYS = ("a", "b", "c")


class OrderedTurnstileLike(Protocol):
    """What ``OrderedTurnstileContract.make_subject`` returns."""

    def wait_turn(self, key: Hashable, timeout: float | None = None) -> bool: ...

    def complete(self, key: Hashable) -> None: ...

    def turn(self, key: Hashable, timeout: float | None = None) -> AbstractContextManager[bool]: ...


class OrderedTurnstileContract(Contract):
    """Properties of an ordered turnstile: one step at a time, in key order.

    Override ``make_subject(self, keys, timeout)`` to return a new turnstile
    over ``keys`` whose ``wait_turn`` gives up after ``timeout`` seconds by
    default. ``turn_timeout`` (default 30.0) is the ``timeout`` passed; it is
    virtual time, so it costs nothing.
    """

    __test__ = False
    subject_signature = "make_subject(self, keys, timeout)"
    subject_description = (
        "a new turnstile over keys with wait_turn(key, timeout=None) -> bool, complete(key) "
        "and turn(key) (a context manager)"
    )
    subject_methods = ("wait_turn", "complete", "turn")

    #: the default fail-open timeout given to make_subject (virtual seconds)
    turn_timeout: ClassVar[float] = 30.0

    @abstract_subject
    def make_subject(self, keys: Iterable[Any], timeout: float) -> Any:
        raise NotImplementedError(self._override_message())

    def _turnstile(self) -> OrderedTurnstileLike:
        subject: OrderedTurnstileLike = self.subject(list(KEYS), self.turn_timeout)
        return subject

    def test_steps_run_in_key_order(self) -> None:
        """Each key's step runs after every earlier key's, whatever order they arrive in."""

        def scenario() -> None:
            turnstile = self._turnstile()
            steps: list[tuple[str, object]] = []

            def step(key: str) -> None:
                in_order = turnstile.wait_turn(key)
                steps.append((key, in_order))
                turnstile.complete(key)

            late = [start(f"segment-{key}", functools.partial(step, key)) for key in ("c", "b")]
            step("a")
            for handle in late:
                handle.result()
            assert steps == [(key, True) for key in KEYS], (
                f"the steps ran as {steps} (key, wait_turn result); expected {list(KEYS)} in "
                "order, each wait_turn returning True"
            )

        self.explore(scenario)

    def test_an_exception_releases_the_turn(self) -> None:
        """A step that raises inside turn(key) still passes the turn on."""

        def scenario() -> None:
            turnstile = self._turnstile()
            began = time.monotonic()
            steps: list[tuple[str, object, float]] = []

            def step(key: str) -> None:
                with turnstile.turn(key) as in_order:
                    steps.append((key, in_order, time.monotonic() - began))
                    if key == "b":
                        raise ContractError("segment b failed")

            late = start("segment-c", lambda: step("c"))
            step("a")
            failed = outcome_of(lambda: step("b"))
            late.result()
            assert isinstance(failed, ContractError), f"segment b returned {failed!r}"
            assert steps == [(key, True, 0.0) for key in KEYS], (
                f"steps {steps} (key, in order, seconds): after b raised inside turn('b'), c "
                f"should get its turn at once and in order, not after the {self.turn_timeout} s "
                "fail-open timeout"
            )

        self.explore(scenario)

    def test_a_key_that_never_waits_can_complete_early(self) -> None:
        """complete(key) without wait_turn, even before its turn, releases it."""

        def scenario() -> None:
            turnstile = self._turnstile()
            began = time.monotonic()
            steps: list[tuple[str, object, float]] = []

            def step(key: str) -> None:
                in_order = turnstile.wait_turn(key)
                steps.append((key, in_order, time.monotonic() - began))
                turnstile.complete(key)

            late = start("segment-c", lambda: step("c"))
            turnstile.complete("b")  # a silent segment returning early, before a's turn ended
            step("a")
            late.result()
            assert steps == [("a", True, 0.0), ("c", True, 0.0)], (
                f"steps {steps} (key, in order, seconds): b completed without waiting (a silent "
                "segment returning early); c should then run right after a, in order, not after "
                f"the {self.turn_timeout} s fail-open timeout"
            )

        self.explore(scenario)

    def test_waiting_fails_open_after_the_timeout(self) -> None:
        """If an earlier key never completes, wait_turn returns False after its timeout."""

        def scenario() -> None:
            turnstile = self._turnstile()  # "a" crashed: it never waits nor completes
            began = time.monotonic()

            def step(key: str, timeout: float | None) -> tuple[object, float]:
                in_order = turnstile.wait_turn(key, timeout)
                elapsed = time.monotonic() - began
                turnstile.complete(key)
                return in_order, elapsed

            b = start("segment-b", lambda: step("b", 5.0))
            c = step("c", None)
            assert b.result() == (False, 5.0), (
                f"wait_turn('b', timeout=5) gave (result, seconds) = {b.result()}; with 'a' never "
                "completing it must give up after 5 s and return False (fail-open)"
            )
            assert c == (False, self.turn_timeout), (
                f"wait_turn('c') gave (result, seconds) = {c}; it must fail open after the "
                f"turnstile's timeout ({self.turn_timeout} s) and return False"
            )

        self.explore(scenario)

    def test_a_late_completion_still_passes_the_turn(self) -> None:
        """A key that timed out and completes later still lets the next keys through."""

        def scenario() -> None:
            turnstile = self._turnstile()
            began = time.monotonic()

            def slow_a() -> None:
                time.sleep(100.0)
                turnstile.complete("a")

            def impatient_b() -> object:
                in_order = turnstile.wait_turn("b", 5.0)
                turnstile.complete("b")
                return in_order

            a = start("slow-a", slow_a)
            b = start("impatient-b", impatient_b)
            in_order = turnstile.wait_turn("c", 1000.0)
            elapsed = time.monotonic() - began
            a.result()
            assert b.result() is False, "wait_turn('b', timeout=5) did not fail open after 5 s"
            assert (in_order, elapsed) == (True, 100.0), (
                f"wait_turn('c') gave (result, seconds) = {(in_order, elapsed)}; b completed at "
                "5 s after failing open, so c's turn comes when a completes, at 100 s"
            )

        self.explore(scenario)

    def test_complete_is_idempotent(self) -> None:
        """Completing a key twice does not complete the next one."""

        def scenario() -> None:
            turnstile = self._turnstile()
            turnstile.complete("a")
            repeated = outcome_of(lambda: turnstile.complete("a"))
            assert repeated is None, f"complete('a') a second time raised {repeated!r}"
            early = turnstile.wait_turn("c", 1.0)
            turnstile.complete("b")
            due = turnstile.wait_turn("c", 1.0)
            assert (early, due) == (False, True), (
                f"wait_turn('c') gave {early} before and {due} after complete('b'); completing "
                "'a' twice must not count as completing 'b'"
            )

        self.explore(scenario)
