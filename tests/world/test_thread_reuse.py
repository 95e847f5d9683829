"""A thread of a run carried by a pooled OS thread looks like a fresh thread, in every way.

Each observation is checked on both paths -- ``pooled`` (the default inside an
exploration) and ``fresh`` (``PYTEST_CONCURRENCY_FRESH_THREADS=1``, one new OS
thread per thread of a run) -- and gives the same answer on both. On the
pooled path each test also shows that OS threads really were reused (the same
native id carried threads of different runs), so a pass is not the fresh path
in disguise.
"""

from __future__ import annotations

import _thread
import contextvars
import gc
import itertools
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency._patching import Patcher
from pytest_concurrency.world import workers
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure, UncontrolledBlock

RUNS = 6


@pytest.fixture(params=["pooled", "fresh"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "fresh":
        monkeypatch.setenv(workers.FRESH_THREADS_ENV, "1")
    else:
        monkeypatch.delenv(workers.FRESH_THREADS_ENV, raising=False)
    return str(request.param)


def _carried(native_ids: list[int], path: str) -> None:
    """On the pooled path, OS threads carried threads of several runs (the reuse happened)."""
    if path == "pooled":
        assert len(set(native_ids)) < len(native_ids), f"no OS thread was reused: {native_ids}"


def _settled_raw_count(baseline: int, timeout: float = 5.0) -> int:
    """``_thread._count()`` once it is back to ``baseline`` (or after ``timeout`` real seconds)."""
    deadline = _realtime.monotonic() + timeout
    count: int = _thread._count()  # type: ignore[attr-defined]
    while count > baseline and _realtime.monotonic() < deadline:
        _realtime.sleep(0.01)
        count = _thread._count()  # type: ignore[attr-defined]
    return count


def _two_threads(body: Callable[[], object], **thread_kwargs: Any) -> Callable[[], None]:
    """A scenario starting two threads that run ``body``, joining both."""

    def scenario() -> None:
        threads = [threading.Thread(target=body, **thread_kwargs) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return scenario


# -- identity ------------------------------------------------------------------------------------


def test_current_thread_is_the_users_thread_object(path: str) -> None:
    seen: list[bool] = []
    natives: list[int] = []

    class Worker(threading.Thread):  # defined before the run, as code under test does
        def run(self) -> None:
            seen.append(threading.current_thread() is self)
            natives.append(threading.get_native_id())

    def scenario() -> None:
        workers_ = [Worker(), Worker()]
        for worker in workers_:
            worker.start()
        for worker in workers_:
            worker.join()

    explore(scenario, strategy="random", seed=1, runs=RUNS)
    assert seen == [True] * (2 * RUNS)
    _carried(natives, path)


def test_idents_and_native_ids_agree_inside_and_outside(path: str) -> None:
    inside: dict[threading.Thread, tuple[int, int, int | None, int | None]] = {}
    outside: list[tuple[threading.Thread, int | None, int | None]] = []
    distinct: list[bool] = []

    def body() -> None:
        me = threading.current_thread()
        inside[me] = (_thread.get_ident(), threading.get_native_id(), me.ident, me.native_id)

    def scenario() -> None:
        threads = [threading.Thread(target=body) for _ in range(2)]
        for thread in threads:
            thread.start()
            outside.append((thread, thread.ident, thread.native_id))  # right after start()
        for thread in threads:
            thread.join()
        distinct.append(len({thread.native_id for thread in threads}) == 2)

    explore(scenario, strategy="random", seed=2, runs=RUNS)
    for thread, ident, native_id in outside:
        assert inside[thread] == (ident, native_id, ident, native_id)
    assert all(distinct), "two threads of one run shared an OS thread"
    _carried([native for _thread_, _ident, native in outside if native is not None], path)


def test_names_and_daemon_flags_are_the_users(path: str) -> None:
    seen: list[tuple[str, bool, bool]] = []
    natives: list[int] = []

    def body() -> None:
        me = threading.current_thread()
        seen.append((me.name, me.daemon, me._daemonic))  # type: ignore[attr-defined]
        natives.append(threading.get_native_id())

    def scenario() -> None:
        named = threading.Thread(target=body, name="reaper", daemon=True)
        plain = threading.Thread(target=body)
        for thread in (named, plain):
            thread.start()
        for thread in (named, plain):
            thread.join()

    explore(scenario, strategy="random", seed=1, runs=RUNS)
    assert ("reaper", True, True) in seen
    plain_names = [name for name, daemon, _ in seen if not daemon]
    assert plain_names and all(re.fullmatch(r"Thread-\d+ \(body\)", n) for n in plain_names)
    numbers = [int(re.findall(r"\d+", name)[0]) for name in plain_names]
    # one Thread object per thread of a run, none for the pool: the counter moves by 1 a run
    # (the scenario thread and "reaper" are named, and take no number)
    assert [b - a for a, b in itertools.pairwise(numbers)] == [1] * (len(numbers) - 1)
    _carried(natives, path)


# -- threading.local and other per-thread interpreter state -------------------------------------

_LOCAL = threading.local()


class _CountedLocal(threading.local):
    inits = 0

    def __init__(self) -> None:
        type(self).inits += 1
        self.mine: list[str] = []


_COUNTED = _CountedLocal()


class _Value:
    """Something a thread leaves in a local: it must die with the thread."""


def test_a_module_level_threading_local_looks_empty_to_every_new_thread(path: str) -> None:
    leftovers: list[object] = []
    natives: list[int] = []
    values: list[weakref.ref[_Value]] = []
    _CountedLocal.inits = 0

    def body() -> None:
        natives.append(threading.get_native_id())
        leftovers.append(getattr(_LOCAL, "value", None))
        leftovers.extend(_COUNTED.mine)
        value = _Value()
        values.append(weakref.ref(value))
        _LOCAL.value = value
        _COUNTED.mine.append(threading.current_thread().name)

    explore(_two_threads(body), strategy="random", seed=3, runs=RUNS)
    assert leftovers == [None] * (2 * RUNS), "a thread saw another thread's thread-local values"
    assert _CountedLocal.inits == 2 * RUNS, "a local subclass's __init__ must run in each thread"
    gc.collect()
    assert all(ref() is None for ref in values), "a thread's local values outlived it"
    assert sys.version_info >= (3, 13) or path == "fresh" or len(set(natives)) < len(natives)


def test_the_pool_keeps_carrying_after_threads_that_used_no_local(path: str) -> None:
    """A thread that touched no local leaves its carrier clean (on 3.13 too): it is reused."""
    natives: list[int] = []
    explore(
        _two_threads(lambda: natives.append(threading.get_native_id())),
        strategy="random",
        seed=4,
        runs=RUNS,
    )
    _carried(natives, path)


_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


def test_context_variables_trace_and_async_hooks_do_not_leak(path: str) -> None:
    seen: list[tuple[str, object, object, int]] = []
    natives: list[int] = []

    def tracer(frame: object, event: str, arg: object) -> None:
        return None

    def body() -> None:
        natives.append(threading.get_native_id())
        hooks = sys.get_asyncgen_hooks()
        seen.append(
            (_VAR.get(), sys.gettrace(), hooks.firstiter, sys.get_coroutine_origin_tracking_depth())
        )
        _VAR.set("leaked")
        sys.settrace(tracer)
        sys.set_asyncgen_hooks(firstiter=lambda agen: None)
        sys.set_coroutine_origin_tracking_depth(3)

    explore(_two_threads(body), strategy="random", seed=5, runs=RUNS, granularity="sync")
    assert [(var, trace is tracer, first, depth) for var, trace, first, depth in seen] == [
        ("unset", False, None, 0)
    ] * (2 * RUNS)
    _carried(natives, path)


def test_no_exception_state_carries_over_and_the_excepthook_sees_what_it_would(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooked: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: hooked.append(args.thread.name))
    states: list[object] = []
    natives: list[int] = []

    def body() -> None:
        natives.append(threading.get_native_id())
        states.append(sys.exc_info()[1])
        try:
            raise KeyError("handled")
        except KeyError:
            raise ValueError("unhandled") from None

    result = explore(
        _two_threads(body), strategy="random", seed=6, runs=RUNS, thread_errors="ignore"
    )
    assert result.schedules_run == RUNS
    assert states == [None] * (2 * RUNS)
    # the run reports a thread's exception itself (thread_errors): never the excepthook
    assert hooked == []
    with pytest.raises(InterleavingFailure, match="raised ValueError: unhandled") as info:
        explore(_two_threads(body), strategy="random", seed=6, runs=RUNS)
    assert isinstance(info.value.__cause__, ValueError)
    _carried(natives, path)


# -- enumerate, is_alive, join -------------------------------------------------------------------


def test_enumerate_lists_the_runs_threads_while_alive_and_never_the_pool(path: str) -> None:
    before = set(threading.enumerate())
    listings: list[tuple[bool, bool, bool, bool]] = []
    natives: list[int] = []

    def scenario() -> None:
        me = threading.current_thread()
        stop = threading.Event()
        waiter = threading.Thread(target=stop.wait)
        quick = threading.Thread(target=lambda: natives.append(threading.get_native_id()))
        waiter.start()
        quick.start()
        quick.join()
        listed = set(threading.enumerate()) - before
        listings.append(
            (
                listed == {me, waiter},  # alive ones only, the pool's never
                threading.active_count() == len(before) + 2,
                quick not in threading.enumerate(),
                threading.current_thread() in threading.enumerate(),
            )
        )
        stop.set()
        waiter.join()

    explore(scenario, strategy="random", seed=7, runs=RUNS)
    assert listings == [(True, True, True, True)] * RUNS
    assert set(threading.enumerate()) == before
    _carried(natives, path)


def test_is_alive_and_join_after_the_run_from_outside(path: str) -> None:
    started: list[threading.Thread] = []
    idents: dict[int, int | None] = {}

    def scenario() -> None:
        threads = [threading.Thread(target=lambda: None) for _ in range(2)]
        for thread in threads:
            thread.start()
            started.append(thread)
            idents[id(thread)] = thread.ident
        for thread in threads:
            thread.join()
            assert not thread.is_alive()

    explore(scenario, strategy="random", seed=8, runs=RUNS)
    for thread in started:
        assert not thread.is_alive()
        thread.join(timeout=0)
        thread.join()
        assert thread.ident == idents[id(thread)]
        assert "stopped" in repr(thread)
    _carried([t.native_id for t in started if t.native_id is not None], path)


def test_an_unjoined_thread_is_alive_until_it_ends_and_joinable_from_outside(path: str) -> None:
    late: list[threading.Thread] = []

    def scenario() -> None:
        thread = threading.Thread(target=lambda: None, daemon=True)
        thread.start()
        late.append(thread)  # never joined inside: the run ends once it has finished

    explore(scenario, strategy="random", seed=9, runs=RUNS)
    for thread in late:
        thread.join(timeout=5)
        assert not thread.is_alive()
    _carried([t.native_id for t in late if t.native_id is not None], path)


def _end_signal(thread: threading.Thread) -> tuple[bool, bool]:
    """What this version's ``join`` waits on: (it names the thread, it says the thread ended).

    3.10-3.12: the ``_tstate_lock`` (held while running, dropped once joined or
    seen dead, with ``_is_stopped`` set); 3.13: the ``_ThreadHandle`` (made for
    the thread's ident, done at its end).
    """
    if sys.version_info >= (3, 13):
        handle = thread._handle  # type: ignore[attr-defined]
        return handle.ident == thread.ident, handle.is_done()
    lock = thread._tstate_lock  # type: ignore[attr-defined]
    stopped: bool = thread._is_stopped  # type: ignore[attr-defined]
    return lock is None or lock.locked(), stopped and lock is None


def test_the_versions_own_end_signal_is_set_while_running_and_after(path: str) -> None:
    during: list[tuple[bool, bool]] = []
    started: list[threading.Thread] = []

    def scenario() -> None:
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        started.append(thread)
        during.append(_end_signal(thread))
        stop.set()
        thread.join()

    explore(scenario, strategy="random", seed=10, runs=RUNS)
    assert during == [(True, False)] * RUNS
    for thread in started:
        assert not thread.is_alive()
        assert _end_signal(thread) == (True, True)
        thread.join(0)
    _carried([t.native_id for t in started if t.native_id is not None], path)


# -- the pool itself ------------------------------------------------------------------------------


def test_the_pool_is_bounded_invisible_and_joined_at_the_end_of_its_scope() -> None:
    raw_before: int = _thread._count()  # type: ignore[attr-defined]
    listed_before = set(threading.enumerate())

    def scenario() -> None:  # five threads at once: five carriers, more than the bound below
        threads = [threading.Thread(target=lambda: None) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    with workers.scope(max_idle=2) as pool:
        assert pool is not None
        explore(scenario, strategy="random", seed=11, runs=20)
        assert pool.idle <= 2
        assert pool.size <= 6 + 4  # the bound, plus this run's extras still on their way out
        assert set(threading.enumerate()) == listed_before
        assert _thread._count() > raw_before  # type: ignore[attr-defined]
    assert _settled_raw_count(raw_before) == raw_before, "a pooled OS thread outlived its scope"


def test_parked_carriers_never_keep_the_interpreter_alive() -> None:
    """A process that exits with its pool still open (never closed) exits at once."""
    import subprocess
    import textwrap

    program = textwrap.dedent(
        """
        import threading
        from pytest_concurrency.world import workers
        from pytest_concurrency.world.api import explore

        def scenario():
            thread = threading.Thread(target=lambda: None)
            thread.start()
            thread.join()

        scope = workers.scope()
        pool = scope.__enter__()  # never exited: its carriers stay parked
        explore(scenario, strategy="random", seed=1, runs=5)
        assert pool.idle >= 2
        print("explored")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "explored"


def test_memory_stays_flat_when_carriers_retire_on_every_run() -> None:
    """On 3.13 a thread that used a local retires its carrier: the pool forgets it once ended."""

    def body() -> None:
        _LOCAL.value = 1

    with workers.scope() as pool:
        assert pool is not None
        explore(_two_threads(body), strategy="random", seed=12, runs=200)
        assert pool.size <= 3 + 3  # idle ones, plus the last run's still ending


def test_the_leak_detector_sees_nothing_of_the_pool() -> None:
    from pytest_concurrency.leaks.threads import ThreadDetector

    detector = ThreadDetector()
    with Patcher() as patcher, workers.scope() as pool:
        detector.start(patcher)
        explore(_two_threads(lambda: None), strategy="random", seed=13, runs=RUNS)
        assert pool is not None and pool.size >= 2  # carriers exist and are parked
        findings = detector.finish(_realtime.monotonic() + 0.5)
    assert not findings.leaks


def test_threads_that_need_their_own_os_thread_get_a_fresh_one() -> None:
    natives: list[int] = []

    class OwnBootstrap(threading.Thread):
        def _bootstrap_inner(self) -> None:
            natives.append(threading.get_native_id())
            super()._bootstrap_inner()  # type: ignore[misc]

    def scenario() -> None:
        thread = OwnBootstrap(target=lambda: None)
        thread.start()
        thread.join()

    with workers.scope() as pool:
        assert pool is not None
        explore(scenario, strategy="random", seed=14, runs=RUNS)
        assert pool.claim(OwnBootstrap()) is None
        assert pool.claim(threading.Thread()) is not None
    assert len(natives) == RUNS  # its own bootstrap ran: a new OS thread each run


def test_a_changed_stack_size_gets_fresh_os_threads() -> None:
    previous = threading.stack_size()
    with workers.scope() as pool:
        assert pool is not None
        try:
            threading.stack_size(previous + 256 * 1024 if previous else 512 * 1024)
            assert pool.claim(threading.Thread()) is None
        finally:
            threading.stack_size(previous)
        assert pool.claim(threading.Thread()) is not None


# -- interrupts and abandoned threads --------------------------------------------------------


def test_an_interrupt_right_after_the_hand_over_leaves_no_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw_before: int = _thread._count()  # type: ignore[attr-defined]
    listed_before = set(threading.enumerate())
    real_hand = workers.WorkerPool.hand

    def hand_then_interrupted(self: workers.WorkerPool, job: workers.Job) -> None:
        real_hand(self, job)  # the carrier has the job now ...
        raise KeyboardInterrupt  # ... and the interrupt lands before launch() returns

    monkeypatch.setattr(workers.WorkerPool, "hand", hand_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        explore(lambda: None, strategy="random", runs=1)
    monkeypatch.undo()
    assert set(threading.enumerate()) == listed_before
    assert _settled_raw_count(raw_before) == raw_before


def test_an_interrupt_before_the_job_reaches_its_carrier_undoes_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw_before: int = _thread._count()  # type: ignore[attr-defined]
    listed_before = set(threading.enumerate())
    from pytest_concurrency.world import adoption

    real_adopt = adoption.adopt

    def adopt_then_interrupted(*args: Any) -> None:
        real_adopt(*args)  # the thread looks started ...
        raise KeyboardInterrupt  # ... but its carrier never gets the job

    monkeypatch.setattr(adoption, "adopt", adopt_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        explore(lambda: None, strategy="random", runs=1)
    monkeypatch.undo()
    assert set(threading.enumerate()) == listed_before
    assert _settled_raw_count(raw_before) == raw_before


@pytest.fixture
def real_block() -> Iterator[Any]:
    """A real lock held by the test: a thread of a run acquiring it blocks uncontrolled."""
    lock = _realtime.allocate_lock()
    lock.acquire()
    try:
        yield lock
    finally:
        if lock.locked():
            lock.release()


def test_a_carrier_abandoned_in_an_uncontrolled_block_never_returns(real_block: Any) -> None:
    blocked: list[int] = []

    def stuck() -> None:
        blocked.append(threading.get_native_id())
        real_block.acquire()  # no scheduling point: the run cannot stop it
        real_block.release()

    def scenario() -> None:
        thread = threading.Thread(target=stuck, daemon=True)
        thread.start()
        thread.join()

    with workers.scope() as pool:
        assert pool is not None
        with pytest.raises(UncontrolledBlock):
            explore(scenario, strategy="dfs", runs=1, uncontrolled_timeout=0.3)
        idle_natives = {carrier.native_id for carrier in pool._idle}
        assert blocked[0] not in idle_natives  # the scenario's carrier is back, not this one
        natives: list[int] = []
        explore(
            _two_threads(lambda: natives.append(threading.get_native_id())),
            strategy="random",
            seed=15,
            runs=RUNS,
        )
        assert blocked[0] not in natives, "an abandoned carrier carried another thread"
        size = pool.size
        real_block.release()  # the abandoned thread unwinds; its carrier ends
        deadline = _realtime.monotonic() + 5
        while pool.size >= size and _realtime.monotonic() < deadline:
            explore(lambda: None, strategy="random", runs=1)  # each run reaps ended carriers
            _realtime.sleep(0.01)
        assert pool.size < size, "the abandoned carrier did not end once unblocked"
