"""``SingleFlightContract``: concurrent callers for one key share one call.

A cache stampede: on a cold cache every concurrent caller ran the expensive
build. A single flight lets the callers that overlap one call for a key share
it -- its result or its exception -- while different keys run in parallel, and
keeps no registry entry once the call is over.

How overlap is made certain: the shared callable sleeps one second of the
explorer's *virtual* time. Virtual time only moves when every thread is
blocked, so by the time the sleep ends every other caller has entered ``do``
and is waiting; a correct single flight has them all waiting for that one call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, Protocol, TypeVar

import pytest

from pytest_concurrency.contracts._base import Contract, abstract_subject
from pytest_concurrency.contracts._support import ContractError, outcome_of, start

__all__ = ["SingleFlightContract"]

T = TypeVar("T")


class SingleFlightLike(Protocol):
    """What ``SingleFlightContract.make_subject`` returns."""

    def do(self, key: Hashable, fn: Callable[[], T]) -> T: ...


def registry_size_of(subject: object) -> int | None:
    """``lock_count`` or ``in_flight`` if the subject has one as an int, else None."""
    for name in ("lock_count", "in_flight"):
        value = getattr(subject, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


class SingleFlightContract(Contract):
    """Properties of a single flight: ``do(key, fn)`` shares overlapping calls.

    Override ``make_subject(self)`` to return a new instance of your
    implementation. Budgets: ``callers`` (callers per key, default 2), plus the
    :class:`~pytest_concurrency.contracts.Contract` budgets. The registry
    property reads ``lock_count`` or ``in_flight``; override
    :meth:`registry_size` if yours is named otherwise (returning None skips it).
    """

    __test__ = False
    subject_signature = "make_subject(self)"
    subject_description = "a new single flight with do(key, fn)"
    subject_methods = ("do",)

    #: callers that overlap on one key (each one more multiplies the schedules explored)
    callers: ClassVar[int] = 2

    @abstract_subject
    def make_subject(self) -> Any:
        raise NotImplementedError(self._override_message())

    def registry_size(self, subject: Any) -> int | None:
        """How many per-key entries (locks, calls in flight) the subject holds; None: unknown."""
        return registry_size_of(subject)

    def _overlapping(
        self, flight: SingleFlightLike, key: str, fn: Callable[[], object]
    ) -> list[object]:
        """Run ``do(key, fn)`` from ``callers`` threads at once; their outcomes, in start order."""
        others = [
            start(f"caller-{n}", lambda: flight.do(key, fn)) for n in range(2, self.callers + 1)
        ]
        mine = outcome_of(lambda: flight.do(key, fn))
        return [mine] + [handle.result() for handle in others]

    def test_overlapping_callers_share_one_call(self) -> None:
        """Callers that overlap for one key share one call of fn and all get its result."""

        def scenario() -> None:
            flight: SingleFlightLike = self.subject()
            calls: list[int] = []

            def fn() -> str:
                calls.append(1)
                time.sleep(1.0)  # virtual time: every other caller reaches do() meanwhile
                return f"result of call {len(calls)}"

            outcomes = self._overlapping(flight, "key", fn)
            assert len(calls) == 1, (
                f"fn ran {len(calls)} times for one key while {self.callers} callers overlapped; "
                "a single flight runs it once and shares the result"
            )
            assert outcomes == ["result of call 1"] * self.callers, (
                f"the overlapping callers got {outcomes!r}; each should get the one call's result"
            )

        self.explore(scenario)

    def test_overlapping_callers_share_the_error(self) -> None:
        """Callers that overlap a failing call get its exception; fn is not retried."""

        def scenario() -> None:
            flight: SingleFlightLike = self.subject()
            calls: list[int] = []

            def fn() -> str:
                calls.append(1)
                time.sleep(1.0)
                raise ContractError(f"call {len(calls)} failed")

            outcomes = self._overlapping(flight, "key", fn)
            assert len(calls) == 1, (
                f"fn ran {len(calls)} times for one key: the callers waiting for a failing call "
                "ran it again instead of receiving its exception"
            )
            got = [f"{type(o).__name__}: {o}" for o in outcomes]
            assert got == ["ContractError: call 1 failed"] * self.callers, (
                f"the overlapping callers got {got}; each should get the failing call's exception"
            )

        self.explore(scenario)

    def test_a_later_call_runs_again(self) -> None:
        """A call that starts after the previous one ended runs fn again: no caching."""

        def scenario() -> None:
            flight: SingleFlightLike = self.subject()
            calls: list[str] = []

            def fn() -> str:
                calls.append("call")
                if len(calls) == 1:
                    raise ContractError("the first call failed")
                return f"result of call {len(calls)}"

            first = outcome_of(lambda: flight.do("key", fn))
            second = outcome_of(lambda: flight.do("key", fn))
            third = outcome_of(lambda: flight.do("key", fn))
            assert isinstance(first, ContractError), f"the first call returned {first!r}"
            assert (second, third) == ("result of call 2", "result of call 3"), (
                f"calls made one after the other returned {second!r} and {third!r}; each should "
                "run fn again (a single flight shares overlapping calls, it is not a cache)"
            )

        self.explore(scenario)

    def test_different_keys_run_in_parallel(self) -> None:
        """A call for one key never waits for a call for another key."""

        def scenario() -> None:
            flight: SingleFlightLike = self.subject()
            started = {"a": threading.Event(), "b": threading.Event()}

            def fn_for(key: str, other: str) -> Callable[[], bool]:
                def fn() -> bool:
                    started[key].set()
                    return started[other].wait(timeout=60.0)  # virtual seconds

                return fn

            other = start("caller-b", lambda: flight.do("b", fn_for("b", "a")))
            mine = flight.do("a", fn_for("a", "b"))
            assert (mine, other.result()) == (True, True), (
                "the calls for keys 'a' and 'b' did not run at the same time: one waited 60 s for "
                "the other to start; different keys must not wait for each other"
            )

        self.explore(scenario)

    def test_registry_returns_to_baseline(self) -> None:
        """Once no call is in flight the per-key registry is back to its size before."""

        def scenario() -> None:
            flight: SingleFlightLike = self.subject()
            baseline = self.registry_size(flight)
            if baseline is None:
                pytest.skip(
                    f"{type(flight).__name__} has no lock_count or in_flight; override "
                    "registry_size() to check its registry"
                )

            def fn() -> str:
                time.sleep(1.0)
                return "value"

            def failing() -> str:
                time.sleep(1.0)
                raise ContractError("failed")

            self._overlapping(flight, "key", fn)
            outcome_of(lambda: flight.do("failing", failing))
            size = self.registry_size(flight)
            assert size == baseline, (
                f"the registry holds {size} entries after every call returned (it held "
                f"{baseline} before): entries for finished keys are never removed, so it grows "
                "with every new key"
            )

        self.explore(scenario)
