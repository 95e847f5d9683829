"""Deadlocks, step budget, uncontrolled blocks, interrupts, patch(), argument checks."""

from __future__ import annotations

import _thread
import threading
import time
import types

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency.world.api import checkpoint, explore, replay
from pytest_concurrency.world.report import Deadlock, InterleavingFailure, UncontrolledBlock


def _abba() -> None:
    a, b = threading.Lock(), threading.Lock()

    def one() -> None:
        with a, b:
            pass

    def two() -> None:
        with b, a:
            pass

    threads = [threading.Thread(target=one, name="one"), threading.Thread(target=two, name="two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_deadlock_reports_cycle_graph_and_stacks() -> None:
    with pytest.raises(Deadlock) as info:
        explore(_abba, strategy="dfs")
    message = str(info.value)
    first_line = message.splitlines()[0]
    assert first_line.startswith("deadlock: T1 one waits to acquire Lock#2")
    assert "held by T2 two" in first_line and "held by T1 one" in first_line
    assert "wait-for graph:" in message
    assert "scenario waits for the end of T1 one" in message
    assert "stacks:" in message and "in two" in message and "with b, a:" in message
    assert "created at tests/world/test_failures.py:18" in message  # traced replay names
    assert info.value.token.startswith("pc1.")
    assert message.rstrip().endswith(f'_abba, "{info.value.token}")')


def test_step_budget_turns_a_spin_into_a_failure() -> None:
    def scenario() -> None:
        flag: list[bool] = []

        def spinner() -> None:
            while not flag:
                checkpoint("poll")

        t = threading.Thread(target=spinner)
        t.start()
        t.join()

    with pytest.raises(InterleavingFailure, match="max_steps=300") as info:
        explore(scenario, strategy="pct", runs=2, max_steps=300)
    assert "more like the line above" in str(info.value)
    assert not isinstance(info.value, Deadlock)


def test_uncontrolled_block_fails_fast_with_stack_and_fixes() -> None:
    outside = _realtime.allocate_lock()  # a lock the scheduler cannot see
    outside.acquire()

    def scenario() -> None:
        outside.acquire()  # blocks for real

    # threads named "scenario" that other tests abandoned are not this test's to wait for
    earlier = {t for t in threading.enumerate() if t.name == "scenario"}
    started = _realtime.monotonic()
    try:
        with pytest.raises(UncontrolledBlock) as info:
            explore(scenario, runs=1, uncontrolled_timeout=0.3)
    finally:
        outside.release()  # lets the abandoned thread finish
    assert _realtime.monotonic() - started < 3
    message = str(info.value)
    assert "thread scenario made no scheduling point for 0.3 s" in message
    assert "outside.acquire()" in message
    assert "interleavings.patch" in message
    # the stuck thread was abandoned; it ends once unblocked: wait for it boundedly
    deadline = _realtime.monotonic() + 5
    while any(t.name == "scenario" and t not in earlier for t in threading.enumerate()):
        assert _realtime.monotonic() < deadline
        _realtime.sleep(0.01)


def test_keyboard_interrupt_restores_everything() -> None:
    def scenario() -> None:
        _thread.interrupt_main()  # as if Ctrl-C hit pytest while it waits for the run
        while True:
            time.sleep(1)

    with pytest.raises(KeyboardInterrupt):
        explore(scenario, runs=1, max_steps=10**9)
    # the autouse fixture checks that no thread and no patch is left behind


def test_patch_swaps_module_level_locks_for_each_run_and_back() -> None:
    module = types.ModuleType("guard")
    exec(
        "import threading\n"
        "from threading import Lock\n"
        "from time import sleep\n"
        "_lock = threading.Lock()\n"
        "_cond = threading.Condition(_lock)\n"
        "_ready = threading.Event()\n"
        "_ready.set()\n",
        module.__dict__,
    )
    originals = {
        name: module.__dict__[name] for name in ("_lock", "_cond", "_ready", "Lock", "sleep")
    }
    seen: list[str] = []

    def scenario() -> None:
        seen.append(type(module._lock).__module__)
        assert module._cond._lock is module._lock  # the swapped Condition uses the swapped lock
        assert module._ready.is_set()  # state is carried over
        assert type(module.Lock()).__module__ == "pytest_concurrency.world.locks"
        start = time.monotonic()
        module.sleep(5)
        assert time.monotonic() - start == 5
        with module._cond:
            module._cond.notify_all()

    explore(scenario, strategy="pct", runs=3, patch=module)
    assert seen == ["pytest_concurrency.world.locks"] * 3
    assert all(module.__dict__[name] is value for name, value in originals.items())


def test_patch_rejects_bad_targets() -> None:
    with pytest.raises(ValueError, match="found no lock"):
        explore(lambda: None, patch=types.ModuleType("empty"))
    with pytest.raises(ValueError, match="already controlled"):
        explore(lambda: None, patch=threading)
    with pytest.raises(TypeError, match="module, class or object"):
        explore(lambda: None, patch=42)


def test_primitive_used_from_an_uncontrolled_thread_is_a_clear_error() -> None:
    errors: list[str] = []
    handed: list[object] = []
    handed_over = _realtime.allocate_lock()
    handed_over.acquire()
    tried = _realtime.allocate_lock()
    tried.acquire()

    def outsider() -> None:  # started before the run: not controlled
        handed_over.acquire(timeout=10)
        try:
            handed[0].acquire()  # type: ignore[attr-defined]
        except RuntimeError as error:
            errors.append(str(error))
        tried.release()

    thread = threading.Thread(target=outsider)
    thread.start()

    def scenario() -> None:
        handed.append(threading.Lock())
        handed_over.release()
        tried.acquire(timeout=10)  # a short real wait for the outsider

    explore(scenario, runs=1)
    thread.join(timeout=10)
    assert errors and "does not control" in errors[0]


def test_nested_explore_is_refused() -> None:
    def scenario() -> None:
        explore(lambda: None, runs=1)

    with pytest.raises(InterleavingFailure) as info:
        explore(scenario, runs=1)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "inside a scenario" in str(info.value.__cause__)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"strategy": "bfs"}, ValueError, "'random', 'pct', 'dfs'"),
        ({"runs": 0}, ValueError, "runs must be >= 1"),
        ({"strategy": "pct", "runs": None}, ValueError, "time_budget"),
        ({"runs": 1.5}, TypeError, "runs must be an int"),
        ({"strategy": "pct", "seed": "7"}, TypeError, "seed"),
        ({"strategy": "pct", "depth": 0}, ValueError, "depth"),
        ({"preemption_bound": -1}, ValueError, "preemption_bound"),
        ({"time_budget": 0}, ValueError, "time_budget"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"uncontrolled_timeout": -1}, ValueError, "uncontrolled_timeout"),
        ({"thread_errors": "warn"}, ValueError, "thread_errors"),
    ],
)
def test_arguments_are_validated(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        explore(lambda: None, **kwargs)  # type: ignore[arg-type]


def test_scenario_must_be_callable() -> None:
    # coroutine functions are scenarios too: tests/world/test_aio_loop.py
    with pytest.raises(TypeError, match="callable"):
        explore(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        replay(42, "pc1.x")  # type: ignore[arg-type]


def test_an_interrupt_while_the_scenario_thread_starts_leaves_no_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A timeout or Ctrl-C can land while ``start()`` waits for the new OS thread.

    The thread then exists and parks before user code; the run's abort must
    still find it and release it, not forget it and leave it parked for ever.
    (Fresh OS threads; a pooled one: tests/world/test_thread_reuse.py.)
    """
    from pytest_concurrency.world import threads as world_threads
    from pytest_concurrency.world import workers

    monkeypatch.setenv(workers.FRESH_THREADS_ENV, "1")

    real_start = world_threads._original_start

    def start_then_interrupted(thread: threading.Thread) -> None:
        real_start(thread)  # the OS thread exists now ...
        raise KeyboardInterrupt  # ... and the interrupt lands before launch() returns

    monkeypatch.setattr(world_threads, "_original_start", start_then_interrupted)
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        explore(lambda: None, strategy="random", runs=1)
    monkeypatch.undo()
    leftover = [t for t in threading.enumerate() if t not in before]
    assert not leftover, f"threads left parked: {leftover}"
