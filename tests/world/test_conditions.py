"""Controlled Condition, Event, Semaphore, BoundedSemaphore and Barrier."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import Deadlock


def test_condition_handoff_with_predicate_never_loses_a_wakeup() -> None:
    def scenario() -> None:
        cond = threading.Condition()
        items: list[int] = []

        def consumer() -> None:
            with cond:
                assert cond.wait_for(lambda: items)
                items.pop()

        t = threading.Thread(target=consumer)
        t.start()
        with cond:
            items.append(1)
            cond.notify()
        t.join()
        assert items == []

    assert explore(scenario, strategy="dfs").exhausted


def test_notify_before_wait_is_a_deadlock() -> None:
    def scenario() -> None:
        cond = threading.Condition(threading.Lock())

        def waiter() -> None:
            with cond:
                cond.wait()

        t = threading.Thread(target=waiter)
        t.start()
        with cond:
            cond.notify()
        t.join()

    with pytest.raises(Deadlock, match="waits on Condition#1"):
        explore(scenario, strategy="dfs")


def test_condition_errors_and_timeouts() -> None:
    def scenario() -> None:
        cond = threading.Condition()
        with pytest.raises(RuntimeError, match="un-acquired"):
            cond.wait()
        with pytest.raises(RuntimeError, match="un-acquired"):
            cond.notify()
        with cond:
            start = time.monotonic()
            assert cond.wait(timeout=3) is False
            assert cond.wait_for(lambda: False, timeout=2) is False
            assert time.monotonic() - start == 5
            assert cond.wait(timeout=0) is False

    explore(scenario, strategy="random", runs=1, seed=0)


def test_notify_all_wakes_every_waiter_and_notify_one() -> None:
    def scenario() -> None:
        cond = threading.Condition()
        woken: list[str] = []
        ready = threading.Semaphore(0)

        def waiter(name: str) -> None:
            with cond:
                ready.release()
                if cond.wait(timeout=10):
                    woken.append(name)

        threads = [threading.Thread(target=waiter, args=(n,)) for n in "ab"]
        for t in threads:
            t.start()
        ready.acquire()
        ready.acquire()
        with cond:
            cond.notify()  # exactly one of them
        for t in threads:
            t.join()
        assert len(woken) == 1  # the other timed out

    assert explore(scenario, strategy="dfs", preemption_bound=1).exhausted


def test_event_set_wakes_waiters_even_if_cleared_again() -> None:
    def scenario() -> None:
        event = threading.Event()
        results: list[bool] = []

        def waiter() -> None:
            results.append(event.wait(timeout=60))

        t = threading.Thread(target=waiter)
        t.start()
        event.set()
        event.clear()
        t.join()
        # the waiter either saw the flag, was woken by set(), or started after clear()
        assert results in ([True], [False])
        assert not event.is_set()

    assert explore(scenario, strategy="dfs").exhausted


def test_event_wait_wakeup_is_not_lost_when_cleared() -> None:
    def scenario() -> None:
        event = threading.Event()
        results: list[bool] = []

        t = threading.Thread(target=lambda: results.append(event.wait(timeout=60)))
        t.start()
        time.sleep(1)  # virtual time moves only once the waiter is blocked in wait()
        event.set()
        event.clear()
        t.join()
        assert results == [True]
        assert time.monotonic() - start == 1

    start = 0.0

    def timed() -> None:
        nonlocal start
        start = time.monotonic()
        scenario()

    assert explore(timed, strategy="dfs").exhausted


def test_semaphores() -> None:
    def scenario() -> None:
        sem = threading.Semaphore(2)
        inside = [0]
        peak = [0]

        def worker() -> None:
            with sem:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
                time.sleep(1)
                inside[0] -= 1

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert peak[0] == 2
        assert not sem.acquire(timeout=0) or sem.acquire(timeout=0)
        bounded = threading.BoundedSemaphore(1)
        with pytest.raises(ValueError, match="too many"):
            bounded.release()
        with pytest.raises(ValueError, match="initial value"):
            threading.Semaphore(-1)
        with pytest.raises(ValueError, match="non-blocking"):
            sem.acquire(False, 1)

    explore(scenario, strategy="pct", runs=20, seed=3)


def test_barrier_releases_together_and_breaks_on_timeout() -> None:
    def scenario() -> None:
        barrier = threading.Barrier(3)
        indexes: list[int] = []

        def party() -> None:
            indexes.append(barrier.wait())

        threads = [threading.Thread(target=party) for _ in range(2)]
        for t in threads:
            t.start()
        indexes.append(barrier.wait())
        for t in threads:
            t.join()
        assert sorted(indexes) == [0, 1, 2]

        lonely = threading.Barrier(2, timeout=5)
        start = time.monotonic()
        with pytest.raises(threading.BrokenBarrierError):
            lonely.wait()
        assert time.monotonic() - start == 5
        assert lonely.broken
        lonely.reset()
        assert not lonely.broken

    assert explore(scenario, strategy="dfs", preemption_bound=1).exhausted


def test_primitives_are_controlled_only_inside_a_run() -> None:
    kinds: list[str] = []

    def scenario() -> None:
        for factory in (threading.Lock, threading.RLock, threading.Condition, threading.Event):
            obj = factory()
            kinds.append(type(obj).__module__)
            assert isinstance(obj, factory)

    explore(scenario, runs=1)
    assert set(kinds) == {
        "pytest_concurrency.world.locks",
        "pytest_concurrency.world.conditions",
    }
    assert type(threading.Lock()).__module__ == "_thread"


@pytest.mark.parametrize("lock", ["Lock", "RLock"])
def test_a_condition_wait_loop_is_no_data_race(lock: str) -> None:
    """The lock a wait gives up orders the waiter's reads before the next owner's writes:
    the textbook loop is proven with races="error", not warned about."""

    def scenario() -> None:
        cond = threading.Condition(getattr(threading, lock)())  # the run's own lock
        box = {"ready": False}

        def waiter() -> None:
            with cond:
                while not box["ready"]:
                    cond.wait()

        def setter() -> None:
            with cond:
                box["ready"] = True
                cond.notify_all()

        threads = [threading.Thread(target=waiter), threading.Thread(target=setter)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    result = explore(scenario, races="error")
    assert result.exhausted


def test_a_read_outside_the_lock_is_still_a_race_with_a_condition_around() -> None:
    from pytest_concurrency import DataRace

    def scenario() -> None:
        cond = threading.Condition()
        box = {"ready": False}

        def peeker() -> None:
            box["ready"]  # a read with no lock held
            with cond:
                cond.notify_all()

        def setter() -> None:
            with cond:
                box["ready"] = True

        threads = [threading.Thread(target=peeker), threading.Thread(target=setter)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    with pytest.raises(DataRace):
        explore(scenario, races="error")
