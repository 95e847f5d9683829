"""Controlled threads: start/join/is_alive, daemons, errors, end of scenario, spawn."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_concurrency.world.api import checkpoint, explore, spawn
from pytest_concurrency.world.report import Deadlock, InterleavingFailure


def test_join_is_alive_and_join_timeout_on_virtual_time() -> None:
    def scenario() -> None:
        stop = threading.Event()
        t = threading.Thread(target=stop.wait, name="sleeper")
        assert not t.is_alive()
        t.start()
        assert t.is_alive()
        start = time.monotonic()
        t.join(timeout=30)  # it waits for stop: the join times out virtually
        assert time.monotonic() - start == 30
        assert t.is_alive()
        stop.set()
        t.join()
        assert not t.is_alive()
        with pytest.raises(RuntimeError, match="only be started once"):
            t.start()
        with pytest.raises(RuntimeError, match="current thread"):
            threading.current_thread().join()

    assert explore(scenario, strategy="dfs").exhausted


def test_current_thread_and_names_are_the_users() -> None:
    names: list[str] = []

    class Worker(threading.Thread):  # subclassed before the run, like code under test does
        def run(self) -> None:
            names.append(threading.current_thread().name)

    def scenario() -> None:
        w = Worker(name="reaper")
        w.start()
        w.join()

    explore(scenario, strategy="pct", runs=3, seed=1)
    assert names == ["reaper"] * 3


def test_exception_in_a_thread_fails_the_run_unless_ignored() -> None:
    def scenario() -> None:
        def boom() -> None:
            raise ValueError("worker died")

        t = threading.Thread(target=boom)
        t.start()
        t.join()

    with pytest.raises(InterleavingFailure, match="raised ValueError: worker died") as info:
        explore(scenario, runs=1)
    assert isinstance(info.value.__cause__, ValueError)
    result = explore(scenario, strategy="pct", runs=3, thread_errors="ignore")
    assert result.schedules_run == 3


def test_scenario_exception_is_the_cause() -> None:
    def scenario() -> None:
        raise KeyError("missing")

    with pytest.raises(InterleavingFailure) as info:
        explore(scenario, strategy="pct", runs=5, seed=3)
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.schedules_run == 1
    assert info.value.seed == 3
    assert info.value.strategy == "pct"


def test_unjoined_threads_run_to_completion_after_the_scenario() -> None:
    finished: list[str] = []

    def scenario() -> None:
        def late() -> None:
            time.sleep(100)
            finished.append("late")

        threading.Thread(target=late).start()  # never joined

    explore(scenario, strategy="pct", runs=2)
    assert finished == ["late", "late"]


def test_blocked_non_daemon_thread_at_the_end_is_a_deadlock_daemon_is_not() -> None:
    def scenario(daemon: bool) -> None:
        threading.Thread(target=threading.Event().wait, daemon=daemon).start()

    with pytest.raises(Deadlock, match="end of the scenario"):
        explore(lambda: scenario(False), runs=1)
    assert explore(lambda: scenario(True), strategy="pct", runs=2).schedules_run == 2


def test_spawn_inside_and_outside_a_run() -> None:
    def scenario() -> None:
        handle = spawn(lambda a, b: a + b, 2, b=3)
        assert handle.result() == 5
        failing = spawn(int, "x")
        with pytest.raises(ValueError):
            failing.result()

    assert explore(scenario, strategy="dfs").exhausted
    outside = spawn(sum, [1, 2])
    assert outside.result(timeout=5) == 3
    with pytest.raises(TypeError, match="callable"):
        spawn(42)  # type: ignore[arg-type]


def test_checkpoint_is_a_noop_outside_a_run() -> None:
    checkpoint("nothing happens")
    with pytest.raises(TypeError, match="name"):
        checkpoint(3)  # type: ignore[arg-type]
