"""Dual-mode primitives: real outside runs, controlled inside, installed for a whole session.

In-process tests install them around one test (``dual`` fixture) and build the
code under test *after* installing, as a session does with its test modules;
the pytester tests run the real option and ini value.
"""

from __future__ import annotations

import queue
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency.world import dual as dual_mode
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.locks import Lock
from pytest_concurrency.world.report import InterleavingFailure, UncontrolledBlock

pytest_plugins = ["pytester"]

_NAMES = ("Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore", "Event", "Barrier")

_APP = """
import threading

_lock = threading.Lock()
_rlock = threading.RLock()
_cond = threading.Condition(_lock)
_ready = threading.Event()
_ready.set()
_idle = threading.Event()
_slots = threading.BoundedSemaphore(2)
_slots.acquire()
_barrier = threading.Barrier(2)
counter = {"value": 0}


def locked(lock):
    def decorate(func):
        def wrapper():
            with lock:
                return func()
        return wrapper
    return decorate


def read_then_write():
    with _lock:
        value = counter["value"]
    with _lock:  # the bug: two critical sections
        counter["value"] = value + 1


@locked(threading.Lock())
def bump():
    counter["value"] += 1


class Registry:
    _lock = threading.RLock()

    def add(self):
        with self._lock:
            value = counter["value"]
        with self._lock:
            counter["value"] = value + 1
"""


@pytest.fixture
def dual() -> Iterator[types.ModuleType]:
    """The dual-mode primitives installed, and a module of code under test made under them."""
    dual_mode.install()
    try:
        module = types.ModuleType("dual_app")
        exec(compile(_APP, "dual_app.py", "exec"), module.__dict__)
        yield module
    finally:
        dual_mode.uninstall()


def _twice(target: object) -> None:
    threads = [threading.Thread(target=target) for _ in range(2)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_install_and_uninstall_put_the_real_classes_back_exactly() -> None:
    originals = {name: getattr(threading, name) for name in _NAMES}
    dual_mode.install()
    dual_mode.install()  # nested: counted
    try:
        assert all(getattr(threading, name) is dual_mode.FACTORIES[name] for name in _NAMES)
        dual_mode.uninstall()
        assert dual_mode.installed()
    finally:
        dual_mode.uninstall()
    assert not dual_mode.installed()
    assert {name: getattr(threading, name) for name in _NAMES} == originals
    assert all(getattr(threading, name) is originals[name] for name in _NAMES)
    dual_mode.uninstall()  # one too many: harmless


def test_outside_runs_they_are_the_real_primitives(dual: types.ModuleType) -> None:
    lock = dual._lock
    assert dual_mode.is_dual(lock)
    assert isinstance(lock, threading.Lock)  # type: ignore[arg-type]
    assert isinstance(dual._cond, threading.Condition)
    assert isinstance(dual._ready, threading.Event)
    with lock:
        assert lock.locked()
        assert lock._real.locked()  # type: ignore[attr-defined]
    assert lock.acquire()
    assert not lock.acquire(blocking=False)  # held: a real refusal
    lock.release()
    assert dual._ready.is_set() and dual._ready.wait(0)
    assert dual._slots.acquire(timeout=0) and not dual._slots.acquire(timeout=0)
    dual._slots.release()
    results: list[int] = []
    real_thread = threading.Thread(target=lambda: results.append(dual._barrier.wait(1)))
    real_thread.start()
    results.append(dual._barrier.wait(1))
    real_thread.join(5)
    assert sorted(results) == [0, 1]
    with dual._cond:
        assert not dual._cond.wait(0.001)  # a real, timed wait


def test_the_standard_library_keeps_real_primitives(dual: types.ModuleType) -> None:
    event = threading.Event()  # the code under test's: dual-mode
    assert dual_mode.is_dual(event)
    assert not dual_mode.is_dual(event._real._cond)  # type: ignore[attr-defined]
    thread = threading.Thread(target=lambda: None)
    assert not dual_mode.is_dual(thread._started)  # type: ignore[attr-defined]
    assert not dual_mode.is_dual(queue.Queue().mutex)

    class Flag(threading.Event):  # code under test deriving from a factory
        pass

    flag = Flag()
    assert type(flag) is Flag and isinstance(flag, Flag) and isinstance(flag, threading.Event)
    assert issubclass(Flag, threading.Event) and issubclass(_realtime.Event, threading.Event)
    assert not issubclass(int, threading.Event)
    flag.set()
    assert flag.wait(0)


def test_inside_a_run_they_are_controlled_and_races_are_found(dual: types.ModuleType) -> None:
    def scenario() -> None:
        dual.counter["value"] = 0
        _twice(dual.read_then_write)
        assert dual.counter["value"] == 2, "lost update"

    with pytest.raises(InterleavingFailure, match="lost update") as info:
        explore(scenario, strategy="dfs", runs=None)
    assert "Lock created at dual_app.py:4" in str(info.value)  # the trace names it
    assert not dual._lock.locked()  # the real lock never saw the run


def test_closures_and_class_attributes_are_controlled(dual: types.ModuleType) -> None:
    def closure() -> None:
        dual.counter["value"] = 0
        _twice(dual.bump)
        assert dual.counter["value"] == 2

    result = explore(closure, strategy="dfs", runs=None)
    assert result.exhausted and result.distinct_schedules > 1

    def registry() -> None:
        dual.counter["value"] = 0
        _twice(dual.Registry().add)
        assert dual.counter["value"] == 2, "lost update"

    with pytest.raises(InterleavingFailure, match="lost update"):
        explore(registry, strategy="dfs", runs=None)


def test_one_twin_per_object_per_run_discarded_at_the_end(dual: types.ModuleType) -> None:
    twins: list[object] = []

    def scenario() -> None:
        twin = dual._lock._side()
        assert isinstance(twin, Lock) and dual._lock._side() is twin
        assert dual._cond._side()._lock is twin  # the Condition's twin is over the lock's
        assert dual._ready.is_set()  # the state the real object had
        dual._ready.clear()  # ... and what the run does stays in the run
        assert dual._slots._side()._value == 1
        twins.append(twin)
        dual._lock.acquire()  # still held when the run ends

    explore(scenario, strategy="pct", runs=3)
    assert len({id(twin) for twin in twins}) == 3  # a fresh twin every run
    assert dual._lock._twin is None  # discarded
    assert not dual._lock.locked()  # and the real lock is free
    assert dual._ready.is_set()


def test_a_dual_lock_held_outside_the_run_fails_it_clearly(dual: types.ModuleType) -> None:
    dual._lock.acquire()  # held by this (pytest's) thread, which the run does not control
    try:
        with pytest.raises(UncontrolledBlock, match=r"Lock created at dual_app\.py:4 was held"):
            explore(lambda: dual.read_then_write(), runs=1)
    finally:
        dual._lock.release()
    explore(lambda: dual.read_then_write(), strategy="pct", runs=1)  # free again: fine


def test_a_thread_its_run_abandoned_never_touches_the_real_lock(dual: types.ModuleType) -> None:
    outside = _realtime.allocate_lock()  # a lock no run controls
    outside.acquire()
    threads: list[threading.Thread] = []

    def scenario() -> None:
        threads.append(threading.current_thread())
        with dual._lock:  # the run's twin
            outside.acquire()  # blocks for real: the run gives up and abandons the thread

    try:
        with pytest.raises(UncontrolledBlock):
            explore(scenario, runs=1, uncontrolled_timeout=0.3)
        assert dual._lock.acquire(blocking=False)  # the real lock is free: this thread takes it
        outside.release()  # the abandoned thread wakes up and leaves its ``with`` block
        threads[0].join(5)
        assert not threads[0].is_alive()
        assert dual._lock._real.locked()  # it unwound without releasing this thread's hold
    finally:
        if dual._lock._real.locked():
            dual._lock._real.release()


def test_a_thread_the_run_does_not_control_gets_the_real_lock(dual: types.ModuleType) -> None:
    from pytest_concurrency.world import scheduler
    from pytest_concurrency.world.api import checkpoint

    kinds: list[tuple[str, str]] = []

    def outside() -> None:  # a real thread, started before the run: never controlled
        deadline = _realtime.monotonic() + 10
        while scheduler.active() is None and _realtime.monotonic() < deadline:
            _realtime.sleep(0.001)
        kinds.append(("outside", type(dual._lock._side()).__name__))

    def scenario() -> None:
        kinds.append(("scenario", type(dual._lock._side()).__name__))
        for _ in range(5000):  # bounded: wait (really) for the outside thread to look
            if len(kinds) == 2:
                break
            _realtime.sleep(0.001)
            checkpoint()

    helper = threading.Thread(target=outside)
    helper.start()
    try:
        explore(scenario, runs=1, max_steps=10_000)
    finally:
        helper.join(10)
    # the run's twin for the scenario; the real lock for the outsider
    assert sorted(kinds) == [("outside", "lock"), ("scenario", "Lock")]


def test_a_condition_made_in_a_run_over_a_dual_lock_uses_its_twin(
    dual: types.ModuleType,
) -> None:
    seen: list[bool] = []

    def scenario() -> None:
        for cond in (threading.Condition(dual._lock), threading.Condition(lock=dual._rlock)):
            with cond:
                cond.notify_all()
        seen.append(threading.Condition(dual._lock)._lock is dual._lock._side())  # type: ignore[attr-defined]

    explore(scenario, strategy="pct", runs=2)
    assert seen == [True, True]


def test_the_fake_clock_still_drives_waits_on_dual_primitives(dual: types.ModuleType) -> None:
    from pytest_concurrency.fake_clock import FakeClock

    with FakeClock() as clock:
        start = clock.monotonic()
        assert dual._idle.wait(2) is False  # a timed wait in the test's thread: autojumps
        assert clock.monotonic() == start + 2


def test_patch_leaves_dual_primitives_to_themselves(dual: types.ModuleType) -> None:
    seen: list[bool] = []

    def scenario() -> None:
        seen.append(dual_mode.is_dual(dual._lock) and isinstance(dual._lock._side(), Lock))

    explore(scenario, patch=[dual], strategy="pct", runs=2)  # found, not refused, not swapped
    assert seen == [True, True]


# -- the session option ------------------------------------------------------------------------

_VOCAB = """
import threading
import cachetools

_LOCK = threading.Lock()
_COND = threading.Condition(_LOCK)
calls = []


@cachetools.cached(cachetools.LRUCache(16), lock=_LOCK)
def load(key):
    calls.append(key)
    return key.upper()


@cachetools.cached(cachetools.LRUCache(16), lock=_LOCK, condition=_COND)
def load_fixed(key):
    calls.append(key)
    return key.upper()
"""

_TESTS = """
import threading
import pytest
import vocab


def _stampede(load):
    calls, _ = vocab.calls, load.cache_clear()
    calls.clear()
    threads = [threading.Thread(target=load, args=("k",)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["k"], "stampede"


@pytest.mark.interleavings(strategy="dfs", runs=None)
def test_stampede():
    _stampede(vocab.load)


@pytest.mark.interleavings(strategy="dfs", runs=None)
def test_fixed():
    _stampede(vocab.load_fixed)


@pytest.mark.interleavings(strategy="dfs", runs=None, granularity="line")
def test_stampede_lines():
    _stampede(vocab.load)


@pytest.mark.interleavings(strategy="dfs", runs=None, granularity="line")
def test_fixed_lines():
    _stampede(vocab.load_fixed)


def test_real_outside_runs():
    assert type(vocab._LOCK).__name__ == EXPECTED
"""


def _project(pytester: pytest.Pytester, expected: str, ini: str = "") -> None:
    pytester.makepyfile(vocab=_VOCAB)
    pytester.makepyfile(test_vocab=_TESTS.replace("EXPECTED", repr(expected)))
    pytester.makeini(f"[pytest]\n{ini}")


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    outcomes = {}
    for line in result.outlines:
        for outcome in ("PASSED", "FAILED"):
            if f" {outcome}" in line and "::" in line:
                outcomes[line.split("::")[1].split()[0]] = outcome
    return outcomes


_FOUND = {
    "test_stampede": "FAILED",
    "test_fixed": "PASSED",
    "test_stampede_lines": "FAILED",
    "test_fixed_lines": "PASSED",
    "test_real_outside_runs": "PASSED",
}


def test_the_flag_finds_the_captured_lock_stampede(pytester: pytest.Pytester) -> None:
    _project(pytester, "DualLock")
    result = pytester.runpytest_subprocess(
        "-v", "-p", "no:randomly", "--interleavings-controllable-locks"
    )
    assert _outcomes(result) == _FOUND, result.stdout.str()
    assert "AssertionError: stampede" in result.stdout.str()
    assert "Lock created at vocab.py:4" in result.stdout.str()


def test_the_ini_value_finds_it_too(pytester: pytest.Pytester) -> None:
    _project(pytester, "DualLock", "interleavings_controllable_locks = true")
    result = pytester.runpytest_subprocess("-v", "-p", "no:randomly")
    assert _outcomes(result) == _FOUND, result.stdout.str()


def test_without_the_opt_in_the_locks_stay_real(pytester: pytest.Pytester) -> None:
    _project(pytester, "lock")
    result = pytester.runpytest_subprocess("-v", "-p", "no:randomly", "-k", "real_outside")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("how", ["ini", "flag"])
def test_locks_imported_by_the_root_conftest_are_dual_too(
    pytester: pytest.Pytester, how: str
) -> None:
    _project(pytester, "DualLock", "interleavings_controllable_locks = yes" if how == "ini" else "")
    pytester.makeconftest("import vocab\n")  # imported before pytest_configure
    flag = ["--interleavings-controllable-locks"] if how == "flag" else []
    result = pytester.runpytest_subprocess("-v", "-p", "no:randomly", "-k", "real_outside", *flag)
    result.assert_outcomes(passed=1)


def test_an_in_process_session_puts_the_real_classes_back(pytester: pytest.Pytester) -> None:
    originals = {name: getattr(threading, name) for name in _NAMES}
    _project(pytester, "DualLock")
    result = pytester.runpytest_inprocess(
        "-p",
        "no:randomly",
        "-p",
        "no:asyncio",
        "--interleavings-controllable-locks",
        "-k",
        "real_outside",
    )
    result.assert_outcomes(passed=1)
    assert all(getattr(threading, name) is originals[name] for name in _NAMES)
    assert not dual_mode.installed()


def test_under_the_opt_in_the_fixed_twin_passes_dfs_to_exhaustion(
    pytester: pytest.Pytester,
) -> None:
    dual_mode.install()
    try:
        vocab = types.ModuleType("vocab_in_process")
        exec(compile(_VOCAB, "vocab.py", "exec"), vocab.__dict__)
    finally:
        dual_mode.uninstall()  # the objects stay dual-mode; new ones would be real

    def scenario(load: object) -> None:
        vocab.calls.clear()
        load.cache_clear()  # type: ignore[attr-defined]
        _twice(lambda: load("k"))  # type: ignore[operator]
        assert vocab.calls == ["k"], "stampede"

    for granularity in ("sync", "line"):
        options: dict[str, object] = {"strategy": "dfs", "runs": None, "granularity": granularity}
        with pytest.raises(InterleavingFailure, match="stampede"):
            explore(lambda: scenario(vocab.load), **options)  # type: ignore[arg-type]
        result = explore(lambda: scenario(vocab.load_fixed), **options)  # type: ignore[arg-type]
        assert result.exhausted and result.schedules_run > 10


def test_a_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninterleavings_controllable_locks = sometimes\n")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "interleavings_controllable_locks must be a boolean" in result.stderr.str()


def test_the_option_is_documented_in_help(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert "--interleavings-controllable-locks" in result.stdout.str()
    assert "interleavings_controllable_locks" in result.stdout.str()
