"""Controlled Lock and RLock: exclusion, errors, non-blocking and timed acquires."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_concurrency.world.api import checkpoint, explore
from pytest_concurrency.world.report import InterleavingFailure


def _counter(make_lock: type, threads: int = 2) -> None:
    lock = make_lock()
    box = {"n": 0}

    def work() -> None:
        with lock:
            value = box["n"]
            checkpoint("inside")
            box["n"] = value + 1

    started = [threading.Thread(target=work) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    assert box["n"] == threads


@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_lock_excludes_under_every_schedule(kind: str) -> None:
    result = explore(lambda: _counter(getattr(threading, kind)), strategy="dfs", runs=5000)
    assert result.exhausted
    assert result.schedules_run > 10


def test_unprotected_counter_is_caught() -> None:
    def scenario() -> None:
        box = {"n": 0}

        def work() -> None:
            value = box["n"]
            checkpoint("read")
            box["n"] = value + 1

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert box["n"] == 2

    with pytest.raises(InterleavingFailure):
        explore(scenario, strategy="dfs", runs=100)


def test_lock_semantics_inside_a_run() -> None:
    seen: list[object] = []

    def scenario() -> None:
        lock = threading.Lock()
        seen.append(type(lock).__name__)
        assert isinstance(lock, threading.Lock)
        assert lock.acquire()
        assert lock.locked()
        assert not lock.acquire(blocking=False)
        before = time.monotonic()
        assert not lock.acquire(timeout=2.5)  # nobody releases it: times out virtually
        seen.append(time.monotonic() - before)
        lock.release()
        with pytest.raises(RuntimeError, match="release unlocked lock"):
            lock.release()
        with pytest.raises(ValueError, match="non-blocking"):
            lock.acquire(False, 1)
        with pytest.raises(ValueError, match=r"non-negative|positive"):  # the C lock's words
            lock.acquire(True, -2)

    explore(scenario, strategy="random", runs=1, seed=0)
    assert seen == ["Lock", 2.5]


def test_lock_released_by_another_thread_wakes_the_waiter() -> None:
    def scenario() -> None:
        lock = threading.Lock()
        lock.acquire()
        order: list[str] = []

        def waiter() -> None:
            lock.acquire()
            order.append("waiter got it")

        t = threading.Thread(target=waiter)
        t.start()
        order.append("releasing")
        lock.release()  # a plain Lock may be released by any thread
        t.join()
        assert order == ["releasing", "waiter got it"]

    assert explore(scenario, strategy="dfs").exhausted


def test_rlock_reentrancy_and_ownership() -> None:
    def scenario() -> None:
        rlock = threading.RLock()
        with rlock, rlock:
            errors: list[BaseException] = []

            def intruder() -> None:
                try:
                    rlock.release()
                except RuntimeError as error:
                    errors.append(error)
                assert not rlock.acquire(timeout=1)

            t = threading.Thread(target=intruder)
            t.start()
            t.join()
            assert len(errors) == 1
        assert rlock.acquire(blocking=False)
        rlock.release()

    assert explore(scenario, strategy="dfs").exhausted
