"""WorkerPool with seed 004's bugs put back."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

from pytest_concurrency.demo.contracts_demo import SelectThenRelease
from reference_impl import Worker, WorkerPool, WorkerState
from reference_impl.worker_pool import _close_all, _Slot, state_of

from . import mutant

K = TypeVar("K", bound=Hashable)
W = TypeVar("W", bound=Worker)


class InvalidationRacesClaim(WorkerPool[K, W]):
    """A claim looks a worker up, lets go of the lock, then takes it without checking it was
    removed."""

    def claim(self, key: K) -> W | None:
        while True:
            with self._cond:
                self._replenish_locked(key)
                idle = [slot for slot in self._slots[key] if not slot.busy]
            if not idle:
                return None
            slot = idle[0]
            with self._cond:
                if slot.busy:
                    continue
                slot.busy = True  # the bug: slot.removed is not checked
                return slot.worker


class _StaleStates(WorkerPool[K, W]):
    """Reaps the workers whose state is in ``stale`` (instead of CLOSED and DEAD)."""

    stale: frozenset[WorkerState] = frozenset()

    def _reap_locked(self, key: K, idle_seconds: float | None) -> list[W]:
        now = self._clock()
        kept: list[_Slot[W]] = []
        reaped: list[W] = []
        for slot in self._slots.get(key, ()):
            state = None if slot.busy else state_of(slot.worker)
            idle_too_long = (
                idle_seconds is not None
                and state is WorkerState.RUNNING
                and now - slot.last_used >= idle_seconds
            )
            if state in self.stale or idle_too_long:
                reaped += self._remove_locked(slot)
            else:
                kept.append(slot)
        self._slots[key] = kept
        return reaped


class ClosedLooksUnstarted(_StaleStates[K, W]):
    """Closed is encoded like not-started (proc is None): closed workers are kept."""

    stale = frozenset({WorkerState.DEAD})


class UnstartedLooksClosed(_StaleStates[K, W]):
    """Not-started is encoded like closed (proc is None): fresh workers are reaped."""

    stale = frozenset({WorkerState.CLOSED, WorkerState.DEAD, WorkerState.NEW})


class InvalidateFlushesAll(WorkerPool[K, W]):
    """invalidate(key) flushes every key's workers (credential rotation for one provider)."""

    def invalidate(self, key: K | None = None) -> None:
        removed: list[W] = []
        with self._cond:
            keys: Iterable[K] = list(self._slots)  # the bug: key is ignored
            for k in keys:
                for slot in self._slots.pop(k, []):
                    removed += self._remove_locked(slot)
        _close_all(removed)


MUTANTS = (
    mutant(
        SelectThenRelease,
        "seed 004 original",
        "select-then-release: two callers claim the same worker",
        "test_no_worker_is_claimed_twice",
        "test_a_claim_never_returns_a_removed_worker",
    ),
    mutant(
        InvalidationRacesClaim,
        "seed 004 review",
        "invalidation removes a worker between a caller's lookup and its claim",
        "test_a_claim_never_returns_a_removed_worker",
    ),
    mutant(
        ClosedLooksUnstarted,
        "seed 004 review",
        "closed and not-started both encoded as None: closed workers never reaped",
        "test_closed_workers_are_reaped_and_unstarted_ones_kept",
    ),
    mutant(
        UnstartedLooksClosed,
        "seed 004 review",
        "closed and not-started both encoded as None: unstarted workers reaped",
        "test_no_worker_is_claimed_twice",
        "test_closed_workers_are_reaped_and_unstarted_ones_kept",
        "test_invalidating_one_key_leaves_the_others_alone",
    ),
    mutant(
        InvalidateFlushesAll,
        "seed 004 original",
        "invalidating one key flushes every key's workers",
        "test_invalidating_one_key_leaves_the_others_alone",
    ),
)
