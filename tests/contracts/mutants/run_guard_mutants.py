"""RunGuard with seed 003's bugs put back."""

from __future__ import annotations

import time

from pytest_concurrency.demo.contracts_demo import CheckOutsideTheLock
from reference_impl import ActiveRun, RunGuard, RunRejected

from . import mutant


def wall_clock_guard(dedup_window: float, max_run_seconds: float) -> RunGuard:
    """Seed 003 read time.time(): a clock set back keeps rejecting duplicates."""
    return RunGuard(dedup_window, max_run_seconds, clock=lambda: time.time())


class DedupNotEnforced(RunGuard):
    """The dedup window is recorded but never checked."""

    def begin(self, operation_id: str, route: str, payload: object) -> ActiveRun:
        self._recent.clear()  # the bug: every earlier acceptance is forgotten
        return super().begin(operation_id, route, payload)


class ReprFingerprint(RunGuard):
    """Seed 003 fingerprinted repr(payload): the same dict in another key order is new."""

    def begin(self, operation_id: str, route: str, payload: object) -> ActiveRun:
        return super().begin(operation_id, route, repr(payload))


class StaleSlotNeverReleased(RunGuard):
    """A slot held by a crashed run blocks every later run forever."""

    def _expire_locked(self, now: float) -> None:
        active, self._active = self._active, None
        super()._expire_locked(now)  # expires dedup entries only
        self._active = active


class EndNotOwnerChecked(RunGuard):
    """end() releases the slot whoever holds it."""

    def end(self, operation_id: str) -> bool:
        with self._lock:
            released, self._active = self._active is not None, None
            return released


class EndNotIdempotent(RunGuard):
    """end() raises when its run does not hold the slot (a second end, a stale one)."""

    def end(self, operation_id: str) -> bool:
        if not super().end(operation_id):
            raise RunRejected("in_flight", f"{operation_id} holds no slot")
        return True


MUTANTS = (
    mutant(
        CheckOutsideTheLock,
        "seed 003 original",
        "the slot is checked outside the lock: two overlapping runs are both accepted",
        "test_at_most_one_run_is_accepted",
    ),
    mutant(
        wall_clock_guard,
        "seed 003 original",
        "wall-clock time: a clock set back keeps rejecting duplicates",
        "test_time_is_monotonic_not_wall_clock",
        name="WallClockGuard",
    ),
    mutant(
        DedupNotEnforced,
        "issue 5 residual",
        "the dedup window is not enforced",
        "test_duplicates_inside_the_window_are_rejected",
        "test_equal_payloads_are_duplicates_in_any_key_order",
    ),
    mutant(
        ReprFingerprint,
        "seed 003 original",
        "repr() fingerprints: the same dict in another key order is not a duplicate",
        "test_equal_payloads_are_duplicates_in_any_key_order",
    ),
    mutant(
        StaleSlotNeverReleased,
        "seed 003 review",
        "a crashed run's slot is never released",
        "test_a_stale_slot_is_released_after_max_age",
        "test_time_is_monotonic_not_wall_clock",
    ),
    mutant(
        EndNotOwnerChecked,
        "issue 5 residual",
        "end() is not owner-checked",
        "test_end_is_idempotent_and_owner_checked",
    ),
    mutant(
        EndNotIdempotent,
        "issue 5 residual",
        "end() is not idempotent",
        "test_end_is_idempotent_and_owner_checked",
    ),
)
