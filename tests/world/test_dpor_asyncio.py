"""The partial-order reduction over asyncio task steps, alone and mixed with threads.

Each task step is an event of its task; a step happens after the event that
scheduled it; asyncio's locks, events, semaphores and queues report what each
call does to them. Checked as for threads: the zoo's bugs found and their
fixed twins proven (``exhausted``, every class of interleavings of the task
steps, no preemption bound), every outcome and every trace that bounded DFS
reaches reached too.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable
from typing import Any

import aio_dpor_subjects as subjects
import dpor_traces
import memory_subjects
import pytest

from pytest_concurrency.demo.zoo import (
    aio_backend,
    aio_dropped_lock,
    aio_older_save,
    aio_semaphore,
    aio_stale_read,
)
from pytest_concurrency.errors import DataRaceWarning
from pytest_concurrency.world.api import ExploreResult, explore, replay
from pytest_concurrency.world.report import Deadlock, InterleavingFailure

#: the subjects' code: this test's scenarios and the counter they share with the memory tests
TRACED = [subjects, memory_subjects]

#: explore() options of the exhibits (their code is the package's own: named to be traced)
ZOO: dict[str, tuple[Any, dict[str, Any]]] = {
    "stale_read": (aio_stale_read, {}),
    "older_save": (aio_older_save, {}),
    "dropped_lock": (aio_dropped_lock, {}),
    "semaphore": (aio_semaphore, {"inject_cancel": 1}),
}


def _zoo(name: str, twin: str, **more: Any) -> ExploreResult:
    module, options = ZOO[name]
    return explore(
        getattr(module, twin),
        strategy="dpor",
        trace=[module, aio_backend],
        **options,
        **more,
    )


@pytest.mark.parametrize("name", sorted(ZOO))
def test_each_asyncio_bug_of_the_zoo_is_found(name: str) -> None:
    with pytest.raises(InterleavingFailure) as caught:
        _zoo(name, "buggy", runs=200)
    assert caught.value.schedules_run <= 20
    assert "replayed 3/3" in str(caught.value)
    if name == "semaphore":  # the waiter cancelled after its wake-up: the others wait forever
        assert isinstance(caught.value, Deadlock)


@pytest.mark.parametrize(
    ("name", "most"), [("stale_read", 4), ("older_save", 4), ("dropped_lock", 30)]
)
def test_each_fixed_twin_is_proven(name: str, most: int) -> None:
    result = _zoo(name, "fixed", runs=None)
    assert result.exhausted  # dpor, memory granularity, no preemption bound
    assert result.schedules_run <= most


def test_the_fixed_semaphore_is_proven_with_a_cancellation_injected_anywhere() -> None:
    result = _zoo("semaphore", "fixed", runs=None)
    assert result.exhausted
    assert result.equivalence_classes is not None and result.equivalence_classes > 42
    plain = explore(aio_semaphore.fixed, strategy="dpor", runs=None, trace=[aio_semaphore])
    assert plain.exhausted and plain.schedules_run < result.schedules_run  # the cancellations


def test_the_stale_read_names_its_conflicting_tasks_and_replays_from_its_token() -> None:
    with pytest.raises(InterleavingFailure) as caught:
        _zoo("stale_read", "buggy")
    failure = caught.value
    writes = {(c.kind, c.what) for c in failure.conflicts}
    assert ("write-write", "dict['docs']") in writes
    tasks = {access.thread for c in failure.conflicts for access in (c.first, c.second)}
    assert tasks == {"task-2 (BuggyStore.get)", "task-3 (BuggyStore.save)"}
    with pytest.raises(InterleavingFailure) as again:
        replay(aio_stale_read.buggy, failure.token, trace=[aio_stale_read, aio_backend])
    assert str(again.value.__cause__) == str(failure.__cause__)


def _outcomes(
    make: Callable[[list[object]], Callable[[], Any]], strategy: str, **options: Any
) -> tuple[set[str], int]:
    return dpor_traces.outcomes(make, strategy, trace=TRACED, **options)


@pytest.mark.parametrize(
    "make",
    [
        subjects.outcomes_of_lock_queries,
        subjects.outcomes_of_event_queries,
        subjects.outcomes_of_queue_queries,
        subjects.outcomes_of_semaphore_queries,
        subjects.outcomes_of_task_queries,
    ],
    ids=["lock", "event", "queue", "semaphore", "task"],
)
def test_asyncio_objects_order_what_tasks_see_of_them(
    make: Callable[[list[object]], Callable[[], Any]],
) -> None:
    """asyncio's own code is never traced: without their reports these orders would be one."""
    reduced, _ = _outcomes(make, "dpor")
    full, _ = _outcomes(make, "dfs", preemption_bound=3)
    assert full <= reduced, f"missed {full - reduced}"
    assert len(reduced) > 1


@pytest.mark.parametrize(
    "scenario",
    [aio_stale_read.fixed, aio_dropped_lock.fixed, aio_older_save.buggy],
    ids=["stale_read_fixed", "dropped_lock_fixed", "older_save_buggy"],
)
def test_the_reduction_runs_every_trace_bounded_dfs_runs_over_task_steps(
    scenario: Callable[[], Any],
) -> None:
    module = __import__(scenario.__module__, fromlist=["_"])
    reduced, missed = dpor_traces.missed_by_the_reduction(
        scenario, 3, trace=[module, aio_backend], thread_errors="ignore"
    )
    assert not missed, f"{len(missed)} of the traces DFS ran were not run"
    assert reduced


@pytest.mark.parametrize(
    ("make", "most"),
    [(subjects.thread_and_task, 40), (subjects.two_tasks, 4)],
    ids=["thread_and_task", "two_tasks"],
)
def test_each_lost_update_is_found_and_its_locked_twin_proven(
    make: Callable[..., Callable[[], Any]], most: int
) -> None:
    """A worker thread against a task (twin: a threading.Lock), two tasks (twin: asyncio.Lock)."""
    with pytest.raises(InterleavingFailure) as caught:
        explore(make(locked=False), strategy="dpor", trace=TRACED)
    assert "lost an update" in str(caught.value.__cause__)
    assert any(c.what == "Counter.value" for c in caught.value.conflicts)
    result = explore(make(locked=True), strategy="dpor", runs=None, trace=TRACED)
    assert result.exhausted
    assert result.schedules_run <= most


def test_conflicts_between_tasks_of_one_loop_are_no_data_race() -> None:
    """Tasks of one loop never run at once; a thread and a task do."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRaceWarning)
        result = explore(subjects.benign_between_tasks(), strategy="dpor", runs=None)
    assert result.exhausted and result.schedules_run == 2  # both orders of the writes ran


def test_asyncio_objects_are_themselves_again_after_the_run() -> None:
    originals = (asyncio.Lock.acquire, asyncio.Event.set, asyncio.Queue.get)
    explore(
        subjects.two_tasks(locked=True),
        strategy="dpor",
        runs=None,
        trace=TRACED,
    )
    assert (asyncio.Lock.acquire, asyncio.Event.set, asyncio.Queue.get) == originals


def test_coroutines_a_run_left_pending_are_closed_before_the_next_run() -> None:
    """Else the collector closes them whenever it runs, maybe in a later run's thread,
    where their ``finally`` clauses would be steps of that run."""
    closed: list[str] = []
    was_enabled = gc.isenabled()
    gc.disable()  # only the explorer's own collection may close them
    try:
        with pytest.raises(Deadlock):
            explore(subjects.left_pending(closed), strategy="dpor", runs=1, trace=TRACED)
    finally:
        if was_enabled:
            gc.enable()
    assert closed  # at least the failing run's coroutine, closed when that run ended
