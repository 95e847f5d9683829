"""``RunGuardContract``: one accepted run at a time, duplicates rejected, stale slots freed.

A process-wide run guard protected a generation endpoint against double
submits: one run at a time, the same request rejected for a few seconds after
it was accepted, and a slot held by a crashed run released after a maximum age.
Its code read wall time, so a clock set back an hour kept rejecting duplicates
for an hour.

Rejections are recognised by their ``reason`` attribute (``"in_flight"`` or
``"duplicate"``), whatever the exception's class. Time-dependent properties
run on the explorer's virtual time; the wall-clock property sets
``time.time`` and ``time.monotonic`` apart by hand, so the subject must read
``time.monotonic`` when called (or be given a clock that does).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

from pytest_concurrency._patching import Patcher
from pytest_concurrency.contracts._base import Contract, abstract_subject
from pytest_concurrency.contracts._support import ContractError, outcome_of, start

__all__ = ["RunGuardContract"]

ROUTE = "/generate"


class RunGuardLike(Protocol):
    """What ``RunGuardContract.make_subject`` returns."""

    def begin(self, operation_id: str, route: str, payload: object) -> object: ...

    def end(self, operation_id: str) -> object: ...

    def running(
        self, operation_id: str, route: str, payload: object
    ) -> AbstractContextManager[object]: ...


def submit(guard: RunGuardLike, operation_id: str, payload: object) -> str:
    """``"accepted"``, or the rejection's ``reason``; any other exception propagates."""
    try:
        guard.begin(operation_id, ROUTE, payload)
    except Exception as rejected:
        reason = getattr(rejected, "reason", None)
        if not isinstance(reason, str):
            raise
        return reason
    return "accepted"


class _ManualClock:
    """A clock the property moves by hand (not under the explorer)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RunGuardContract(Contract):
    """Properties of a run guard: ``begin``, ``end`` and ``running``.

    Override ``make_subject(self, dedup_window, max_run_seconds)`` to return a
    new guard; ``begin(operation_id, route, payload)`` must raise an exception
    whose ``reason`` is ``"in_flight"`` or ``"duplicate"`` to reject a run.
    ``dedup_window`` (default 5.0) and ``max_run_seconds`` (default 60.0) are the
    values passed, in virtual seconds.
    """

    __test__ = False
    subject_signature = "make_subject(self, dedup_window, max_run_seconds)"
    subject_description = (
        "a new run guard with begin(operation_id, route, payload), end(operation_id) and "
        "running(operation_id, route, payload)"
    )
    subject_methods = ("begin", "end", "running")

    dedup_window: ClassVar[float] = 5.0
    max_run_seconds: ClassVar[float] = 60.0

    @abstract_subject
    def make_subject(self, dedup_window: float, max_run_seconds: float) -> Any:
        raise NotImplementedError(self._override_message())

    def _guard(self) -> RunGuardLike:
        guard: RunGuardLike = self.subject(self.dedup_window, self.max_run_seconds)
        return guard

    def test_at_most_one_run_is_accepted(self) -> None:
        """Of two overlapping submissions exactly one is accepted, the other is in_flight."""

        def scenario() -> None:
            guard = self._guard()
            other = start("submit-op-2", lambda: submit(guard, "op-2", {"topic": "dogs"}))
            mine = submit(guard, "op-1", {"topic": "cats"})
            outcomes = sorted([mine, other.result()])
            assert outcomes == ["accepted", "in_flight"], (
                f"two overlapping submissions got {outcomes}; exactly one may be accepted and "
                "the other rejected as in_flight"
            )

        self.explore(scenario)

    def test_duplicates_inside_the_window_are_rejected(self) -> None:
        """The same request again within dedup_window of its acceptance is rejected as duplicate."""

        def scenario() -> None:
            guard = self._guard()
            window = self.dedup_window
            seen = [submit(guard, "op-1", {"topic": "cats"})]
            guard.end("op-1")
            time.sleep(window / 2)
            seen.append(submit(guard, "op-2", {"topic": "cats"}))
            seen.append(submit(guard, "op-3", {"topic": "dogs"}))
            guard.end("op-3")
            time.sleep(window)
            seen.append(submit(guard, "op-4", {"topic": "cats"}))
            assert seen == ["accepted", "duplicate", "accepted", "accepted"], (
                f"submissions got {seen}: 'cats' at 0 s, 'cats' again at {window / 2:g} s (a "
                f"duplicate within the {window:g} s window), 'dogs' at {window / 2:g} s, 'cats' "
                f"at {window * 1.5:g} s (window over)"
            )

        self.explore(scenario)

    def test_equal_payloads_are_duplicates_in_any_key_order(self) -> None:
        """Payloads equal as dicts are duplicates whatever their key order."""

        def scenario() -> None:
            guard = self._guard()
            first = submit(guard, "op-1", {"topic": "cats", "n": 3})
            guard.end("op-1")
            again = submit(guard, "op-2", {"n": 3, "topic": "cats"})
            assert (first, again) == ("accepted", "duplicate"), (
                f"{{'topic': 'cats', 'n': 3}} then {{'n': 3, 'topic': 'cats'}} got "
                f"{(first, again)}; equal payloads must be duplicates (fingerprints must not "
                "depend on dict order, as repr() does)"
            )

        self.explore(scenario)

    def test_a_stale_slot_is_released_after_max_age(self) -> None:
        """A slot held longer than max_run_seconds (a crashed run) stops blocking."""

        def scenario() -> None:
            guard = self._guard()
            limit = self.max_run_seconds
            seen = [submit(guard, "crashed", {"topic": "cats"})]  # never ends
            time.sleep(limit - 1.0)
            seen.append(submit(guard, "op-2", {"topic": "dogs"}))
            time.sleep(2.0)
            seen.append(submit(guard, "op-3", {"topic": "birds"}))
            assert seen == ["accepted", "in_flight", "accepted"], (
                f"submissions got {seen}: a run that never ends holds the slot until "
                f"{limit:g} s, then a new run must be accepted"
            )

        self.explore(scenario)

    def test_end_is_idempotent_and_owner_checked(self) -> None:
        """end() releases only its own run and may be called twice."""

        def scenario() -> None:
            guard = self._guard()
            seen = [submit(guard, "op-1", {"n": 1})]
            intruder = outcome_of(lambda: guard.end("intruder"))
            seen.append(submit(guard, "op-2", {"n": 2}))
            first = outcome_of(lambda: guard.end("op-1"))
            second = outcome_of(lambda: guard.end("op-1"))
            seen.append(submit(guard, "op-3", {"n": 3}))
            late = outcome_of(lambda: guard.end("op-1"))
            seen.append(submit(guard, "op-4", {"n": 4}))
            errors = [o for o in (intruder, first, second, late) if isinstance(o, Exception)]
            assert not errors, f"end() raised {errors}; it must be idempotent"
            assert seen == ["accepted", "in_flight", "accepted", "in_flight"], (
                f"submissions got {seen}: end('intruder') must not release op-1's slot, and a "
                "repeated end('op-1') must not release op-3's"
            )

        self.explore(scenario)

    def test_running_releases_on_every_exit_path(self) -> None:
        """running(...) releases the slot when its body returns and when it raises."""

        def scenario() -> None:
            guard = self._guard()

            def crash() -> None:
                with guard.running("op-1", ROUTE, {"n": 1}):
                    raise ContractError("the run failed")

            crashed = outcome_of(crash)
            after_crash = submit(guard, "op-2", {"n": 2})
            guard.end("op-2")
            with guard.running("op-3", ROUTE, {"n": 3}):
                during = submit(guard, "op-4", {"n": 4})
            after = submit(guard, "op-5", {"n": 5})
            assert isinstance(crashed, ContractError), f"the crashing run gave {crashed!r}"
            assert (after_crash, during, after) == ("accepted", "in_flight", "accepted"), (
                f"after a run that raised: {after_crash}; during a run: {during}; after it "
                f"returned: {after} -- running() must hold the slot for its body only"
            )

        self.explore(scenario)

    def test_time_is_monotonic_not_wall_clock(self) -> None:
        """Windows and ages follow time.monotonic: wall-clock jumps change nothing."""
        monotonic = _ManualClock(1000.0)
        wall = _ManualClock(1_767_225_600.0)
        seen: list[str] = []
        with Patcher() as patcher:
            patcher.setattr(time, "monotonic", monotonic)
            patcher.setattr(time, "time", wall)
            guard = self._guard()
            seen.append(submit(guard, "op-1", {"topic": "cats"}))
            guard.end("op-1")
            wall.now -= 3600.0  # the system clock is set back an hour
            monotonic.now += self.dedup_window + 1.0
            seen.append(submit(guard, "op-2", {"topic": "cats"}))  # the window is over
            wall.now += 7200.0  # and forward two hours
            monotonic.now += 1.0
            seen.append(submit(guard, "op-3", {"topic": "dogs"}))  # op-2 is one second old
            monotonic.now += self.max_run_seconds
            seen.append(submit(guard, "op-4", {"topic": "birds"}))  # op-2 is stale now
        assert seen == ["accepted", "accepted", "in_flight", "accepted"], (
            f"submissions got {seen} while the wall clock jumped back 1 h then forward 2 h and "
            f"time.monotonic moved {self.dedup_window + 1:g} s, 1 s, then "
            f"{self.max_run_seconds:g} s: windows and ages must follow the monotonic clock"
        )
