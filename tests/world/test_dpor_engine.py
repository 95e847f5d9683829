"""The partial-order reduction engine: as many outcomes as exhaustive search, far fewer runs.

The engine is driven here run by run, as the explorer drives a strategy. The
scenarios keep all shared state behind the synchronisation operations the
engine sees (locks, semaphores, events, queues, thread ends), which is what a
reduction at synchronisation granularity may assume; each records an outcome
that depends on the order of those operations. Soundness is checked against
exhaustive DFS within one preemption, or two with ``PYTEST_CONCURRENCY_SLOW=1``
(thousands of schedules; unbounded DFS does not finish on three threads): every
outcome it reaches, the unbounded reduction reaches too.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

import pytest

from pytest_concurrency.world.api import ExploreOptions
from pytest_concurrency.world.dpor import DPORStrategy
from pytest_concurrency.world.runner import run_schedule
from pytest_concurrency.world.strategies import DFSStrategy, ExplorationStrategy

Outcomes = list[object]

#: the preemption bound of the exhaustive search the reduction is held against
REFERENCE_BOUND = 2 if os.environ.get("PYTEST_CONCURRENCY_SLOW") else 1


def _explore(
    make: Callable[[Outcomes], Callable[[], None]], strategy: ExplorationStrategy, limit: int
) -> tuple[set[object], int, list[str]]:
    outcomes: Outcomes = []
    scenario = make(outcomes)
    # the primitives' operations are what these scenarios order: sync points, for both
    # strategies (at memory granularity bounded DFS's space is too large to exhaust here)
    settings = ExploreOptions.create(granularity="sync").run_settings(scenario)
    runs = 0
    failures: list[str] = []
    while runs < limit and strategy.begin_run():
        result = run_schedule(scenario, strategy, settings)
        strategy.end_run(len(result.choices))
        runs += 1
        if result.failure is not None:
            failures.append(result.failure.kind)
    assert strategy.exhausted, f"not exhausted within {limit} runs"
    return set(map(repr, outcomes)), runs, failures


def _threads(*targets: Callable[[], None]) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def locked_appends(outcomes: Outcomes) -> Callable[[], None]:
    def scenario() -> None:
        lock = threading.Lock()
        order: list[int] = []

        def add(n: int) -> None:
            with lock:
                order.append(n)

        _threads(*(lambda n=n: add(n) for n in range(3)))
        outcomes.append(tuple(order))

    return scenario


def two_locks(outcomes: Outcomes) -> Callable[[], None]:
    def scenario() -> None:
        a, b = threading.Lock(), threading.Lock()
        on_a: list[int] = []
        on_b: list[int] = []

        def both() -> None:
            with a:
                on_a.append(1)
                with b:
                    on_b.append(1)

        def only_b() -> None:
            with b:
                on_b.append(2)

        def only_a() -> None:
            with a:
                on_a.append(3)

        _threads(both, only_b, only_a)
        outcomes.append((tuple(on_a), tuple(on_b)))

    return scenario


def try_acquire(outcomes: Outcomes) -> Callable[[], None]:
    def scenario() -> None:
        lock = threading.Lock()
        seen: list[object] = []

        def holder() -> None:
            with lock:
                pass

        def trier() -> None:
            got = lock.acquire(blocking=False)
            seen.append(got)
            if got:
                lock.release()
            seen.append(lock.locked())

        _threads(holder, trier)
        outcomes.append(tuple(seen))

    return scenario


def semaphore_and_event(outcomes: Outcomes) -> Callable[[], None]:
    def scenario() -> None:
        units = threading.Semaphore(1)
        flag = threading.Event()
        seen: list[object] = []

        def setter() -> None:
            with units:
                flag.set()

        def reader() -> None:
            seen.append(flag.is_set())
            seen.append(units.acquire(blocking=False))

        _threads(setter, reader)
        outcomes.append(tuple(seen))

    return scenario


def thread_end(outcomes: Outcomes) -> Callable[[], None]:
    def scenario() -> None:
        worker = threading.Thread(target=lambda: None)
        worker.start()
        alive = worker.is_alive()
        worker.join()
        outcomes.append(alive)

    return scenario


def queue_order(outcomes: Outcomes) -> Callable[[], None]:
    def scenario() -> None:
        items: queue.Queue[int] = queue.Queue()
        got: list[int] = []
        _threads(lambda: items.put(1), lambda: items.put(2), lambda: got.append(items.get()))
        outcomes.append(tuple(got))

    return scenario


SCENARIOS = [locked_appends, two_locks, try_acquire, semaphore_and_event, thread_end, queue_order]


@pytest.mark.parametrize("make", SCENARIOS, ids=lambda make: make.__name__)
def test_reaches_every_outcome_bounded_dfs_reaches(
    make: Callable[[Outcomes], Callable[[], None]],
) -> None:
    reduced, reduced_runs, _ = _explore(make, DPORStrategy(None), 5000)
    full, full_runs, _ = _explore(make, DFSStrategy(REFERENCE_BOUND), 20_000)
    assert full <= reduced, f"missed {full - reduced}"
    assert reduced_runs <= full_runs


def _counter(threads: int) -> Callable[[Outcomes], Callable[[], None]]:
    def make(outcomes: Outcomes) -> Callable[[], None]:
        def scenario() -> None:
            lock = threading.Lock()
            box = [0]

            def add() -> None:
                with lock:
                    box[0] += 1

            _threads(*([add] * threads))
            outcomes.append(box[0])

        return scenario

    return make


@pytest.mark.parametrize(("threads", "runs"), [(2, 2), (3, 6), (4, 24)])
def test_a_locked_counter_needs_one_run_per_lock_order(threads: int, runs: int) -> None:
    strategy = DPORStrategy(None)
    outcomes, explored, _ = _explore(_counter(threads), strategy, 1000)
    assert outcomes == {repr(threads)}
    assert explored == runs  # threads! orders of the lock, nothing else
    assert strategy.classes == runs


def test_finds_the_abba_deadlock() -> None:
    def make(outcomes: Outcomes) -> Callable[[], None]:
        def scenario() -> None:
            a, b = threading.Lock(), threading.Lock()

            def ab() -> None:
                with a, b:
                    pass

            def ba() -> None:
                with b, a:
                    pass

            _threads(ab, ba)

        return scenario

    _, runs, failures = _explore(make, DPORStrategy(None), 100)
    assert "deadlock" in failures
    assert runs <= 4


def test_a_bound_that_prunes_is_not_exhausted() -> None:
    strategy = DPORStrategy(0)
    outcomes: Outcomes = []
    scenario = locked_appends(outcomes)
    # the primitives' operations are what these scenarios order: sync points, for both
    # strategies (at memory granularity bounded DFS's space is too large to exhaust here)
    settings = ExploreOptions.create(granularity="sync").run_settings(scenario)
    while strategy.begin_run():
        result = run_schedule(scenario, strategy, settings)
        strategy.end_run(len(result.choices))
    assert strategy.pruned
    assert not strategy.exhausted
