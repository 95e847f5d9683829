"""The waits the fake clock drives: sleep, Condition, Event, locks, join, queues, executors.

Every wait in these tests is bounded: worker threads are daemons joined with a
timeout, and the test's own real-time waits use raw locks (``RealSignal``), since
an ``Event.wait`` in the test's thread would itself run on the fake clock.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pytest_concurrency import _callsite, _realtime
from pytest_concurrency.fake_clock import FakeClock


class RealSignal:
    """A one-shot flag on a raw lock: waiting on it always takes real time."""

    def __init__(self) -> None:
        self._lock = _realtime.allocate_lock()
        self._lock.acquire()

    def set(self) -> None:
        self._lock.release()

    def wait(self, timeout: float = 5.0) -> bool:
        return self._lock.acquire(True, timeout)


def spawn(target: Callable[..., Any], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def sleep_then_read(seconds: float) -> float:
    """Sleep, then report the time seen on waking."""
    time.sleep(seconds)
    return time.monotonic()


def sleep_then(seconds: float, action: Callable[[], object]) -> None:
    time.sleep(seconds)
    action()


def finish(thread: threading.Thread) -> None:
    """Join a thread that must be done now (bounded; virtual time is not moved by much)."""
    thread.join(5)
    assert not thread.is_alive(), f"{thread.name} is still running"


# -- time.sleep -----------------------------------------------------------------------------------


def test_sleep_wakes_on_advance_and_not_before(fake_clock: FakeClock) -> None:
    woke: list[float] = []
    start = fake_clock.monotonic()
    thread = spawn(lambda: woke.append(sleep_then_read(480)))
    assert fake_clock.wait_for_sleepers(1, timeout=5)

    fake_clock.advance(479)
    assert woke == []
    assert [p.kind for p in fake_clock.pending] == ["time.sleep"]

    fake_clock.advance(1)
    finish(thread)
    assert woke == [start + 480]


def _slow_resume(clock: FakeClock, monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
    """Make every woken thread take ``delay`` real seconds to leave its wait."""
    timeline = clock._timeline
    leave = timeline._leave

    def slow_leave(waiter: Any) -> None:
        _realtime.sleep(delay)
        leave(waiter)

    monkeypatch.setattr(timeline, "_leave", slow_leave)


def test_advance_returns_only_after_the_woken_thread_resumed(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = spawn(time.sleep, 30)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    _slow_resume(fake_clock, monkeypatch, 0.05)
    real_start = _realtime.monotonic()
    fake_clock.advance(30)
    assert _realtime.monotonic() - real_start >= 0.05
    finish(thread)


def test_advance_names_a_thread_that_does_not_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeClock(datetime=False, resume_timeout=0.01) as clock:
        thread = threading.Thread(target=time.sleep, args=(30,), name="stuck-one", daemon=True)
        thread.start()
        assert clock.wait_for_sleepers(1, timeout=5)
        _slow_resume(clock, monkeypatch, 0.2)
        with pytest.raises(RuntimeError, match=r"did not resume within 0\.01 s.*'stuck-one'"):
            clock.advance(30)
        finish(thread)


def test_sleep_rejects_what_the_stdlib_rejects(fake_clock: FakeClock) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            time.sleep(-1)
        except ValueError as error:
            errors.append(error)

    finish(spawn(worker))
    assert len(errors) == 1
    with pytest.raises(ValueError):
        time.sleep(-1)
    with pytest.raises(TypeError):
        time.sleep("1")  # type: ignore[arg-type]
    before = fake_clock.monotonic()
    time.sleep(0)
    assert fake_clock.monotonic() == before


def test_sleep_in_the_test_thread_advances_and_wakes_others(fake_clock: FakeClock) -> None:
    start = fake_clock.monotonic()
    woke: list[float] = []
    thread = spawn(lambda: woke.append(sleep_then_read(60)))
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    real_start = _realtime.monotonic()
    time.sleep(3600)
    assert _realtime.monotonic() - real_start < 1.0
    assert fake_clock.monotonic() == start + 3600
    finish(thread)
    assert woke == [start + 3600]  # time moved at once: the sleeper wakes into the new time


# -- Condition ------------------------------------------------------------------------------------


def test_condition_wait_notified_early_wakes_early_with_true(fake_clock: FakeClock) -> None:
    cond = threading.Condition()
    results: list[bool] = []

    def waiter() -> None:
        with cond:
            results.append(cond.wait(30))

    thread = spawn(waiter)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    start = fake_clock.monotonic()
    with cond:
        cond.notify()
    finish(thread)
    assert results == [True]
    assert fake_clock.monotonic() == start


def test_condition_wait_times_out_when_time_passes(fake_clock: FakeClock) -> None:
    cond = threading.Condition()
    results: list[bool] = []

    def waiter() -> None:
        with cond:
            results.append(cond.wait(30))

    thread = spawn(waiter)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(30)
    finish(thread)
    assert results == [False]


def test_wait_for_times_out_after_advances_in_steps(fake_clock: FakeClock) -> None:
    # three advance(10) may land an ulp short of t0 + 30: the waiter must still
    # time out, and its "remaining = end - now" loop must not spin
    cond = threading.Condition()
    results: list[bool] = []

    def waiter() -> None:
        with cond:
            results.append(cond.wait_for(lambda: False, timeout=30))

    thread = spawn(waiter)
    for _ in range(3):
        assert fake_clock.wait_for_sleepers(1, timeout=5)
        fake_clock.advance(10)
    finish(thread)
    assert results == [False]


def test_wait_for_sees_the_predicate_become_true(fake_clock: FakeClock) -> None:
    cond = threading.Condition()
    state = {"ready": False}
    results: list[bool] = []

    def waiter() -> None:
        with cond:
            results.append(cond.wait_for(lambda: state["ready"], timeout=60))

    thread = spawn(waiter)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(20)
    with cond:
        state["ready"] = True
        cond.notify_all()
    finish(thread)
    assert results == [True]


def test_condition_on_a_lock_created_before_install_works() -> None:
    cond = threading.Condition(threading.Lock())
    results: list[bool] = []
    with FakeClock(datetime=False) as clock:

        def waiter() -> None:
            with cond:
                results.append(cond.wait(10))

        thread = spawn(waiter)
        assert clock.wait_for_sleepers(1, timeout=5)
        clock.advance(10)
        finish(thread)
    assert results == [False]


# -- Event, Semaphore, Barrier, Timer -------------------------------------------------------------


@pytest.mark.parametrize("set_early", [True, False])
def test_event_wait_timeout_and_set(fake_clock: FakeClock, set_early: bool) -> None:
    event = threading.Event()
    results: list[bool] = []
    thread = spawn(lambda: results.append(event.wait(120)))
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    if set_early:
        event.set()
    else:
        fake_clock.advance(120)
    finish(thread)
    assert results == [set_early]


@pytest.mark.parametrize("released", [True, False])
def test_semaphore_timed_acquire_is_virtual(fake_clock: FakeClock, released: bool) -> None:
    semaphore = threading.Semaphore(0)
    results: list[bool] = []
    thread = spawn(lambda: results.append(semaphore.acquire(timeout=45)))
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    if released:
        semaphore.release()
    else:
        fake_clock.advance(45)
    finish(thread)
    assert results == [released]


def test_timer_fires_when_its_interval_passes(fake_clock: FakeClock) -> None:
    fired: list[float] = []
    start = fake_clock.monotonic()
    timer = threading.Timer(90, lambda: fired.append(time.monotonic()))
    timer.daemon = True
    timer.start()
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(89)
    assert fired == []
    fake_clock.advance(1)
    finish(timer)
    assert fired == [start + 90]


def test_barrier_wait_times_out_virtually(fake_clock: FakeClock) -> None:
    barrier = threading.Barrier(2, timeout=15)
    errors: list[BaseException] = []

    def party() -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError as error:
            errors.append(error)

    thread = spawn(party)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(15)
    finish(thread)
    assert len(errors) == 1


# -- Lock and RLock -------------------------------------------------------------------------------


@pytest.mark.parametrize("factory", [threading.Lock, threading.RLock], ids=["Lock", "RLock"])
@pytest.mark.parametrize("released", [True, False])
def test_timed_acquire_is_virtual(
    fake_clock: FakeClock, factory: Callable[[], Any], released: bool
) -> None:
    lock = threading.Lock() if factory is threading.Lock else threading.RLock()
    holder_may_release = RealSignal()
    held = RealSignal()

    def holder() -> None:
        with lock:
            held.set()
            holder_may_release.wait()

    results: list[bool] = []
    holding = spawn(holder)
    assert held.wait()
    contender = spawn(lambda: results.append(lock.acquire(timeout=60)))
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    if released:
        holder_may_release.set()
    else:
        fake_clock.advance(60)
    finish(contender)
    assert results == [released]
    holder_may_release.set() if not released else None
    finish(holding)


def test_virtual_locks_keep_the_lock_contract(fake_clock: FakeClock) -> None:
    lock = threading.Lock()
    rlock: Any = threading.RLock()
    assert type(lock).__name__ == "VirtualLock"
    assert isinstance(lock, threading.Lock) if isinstance(threading.Lock, type) else True
    assert lock.acquire(False) and lock.locked() and not lock.acquire(False)
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    with pytest.raises(ValueError, match="non-blocking"):
        lock.acquire(False, 1)
    with rlock, rlock:
        assert rlock.locked()
    assert not rlock.locked()
    with pytest.raises(RuntimeError):
        rlock.release()
    # the test's thread itself: a timed acquire of a held lock autojumps and times out
    lock.acquire()
    start = fake_clock.monotonic()
    assert lock.acquire(timeout=7) is False
    assert fake_clock.monotonic() == start + 7
    lock.release()


def test_locks_created_before_install_stay_real() -> None:
    lock = threading.Lock()
    with FakeClock(datetime=False):
        assert type(lock) is type(_realtime.allocate_lock())
        assert type(threading.Lock()).__name__ == "VirtualLock"
    assert type(threading.Lock()) is type(lock)


# -- Thread.join ----------------------------------------------------------------------------------


def test_join_timeout_is_virtual_in_a_worker(fake_clock: FakeClock) -> None:
    sleeper = spawn(time.sleep, 600)
    outcome: list[bool] = []

    def joiner() -> None:
        sleeper.join(10)
        outcome.append(sleeper.is_alive())

    joining = spawn(joiner)
    assert fake_clock.wait_for_sleepers(2, timeout=5)
    assert sorted(p.kind for p in fake_clock.pending) == ["Thread.join", "time.sleep"]
    fake_clock.advance(10)
    finish(joining)
    assert outcome == [True]
    fake_clock.advance(590)
    finish(sleeper)


def test_join_in_the_test_thread_autojumps_to_the_sleepers_end(fake_clock: FakeClock) -> None:
    start = fake_clock.monotonic()
    thread = spawn(time.sleep, 480)
    real_start = _realtime.monotonic()
    thread.join(1000)
    assert not thread.is_alive()
    assert fake_clock.monotonic() == start + 480
    assert _realtime.monotonic() - real_start < 1.0


# -- queues ---------------------------------------------------------------------------------------


def test_queue_get_timeout_is_virtual(fake_clock: FakeClock) -> None:
    q: queue.Queue[int] = queue.Queue()
    outcome: list[object] = []

    def getter() -> None:
        try:
            outcome.append(q.get(timeout=30))
        except queue.Empty:
            outcome.append("empty")

    thread = spawn(getter)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(30)
    finish(thread)
    thread = spawn(getter)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    q.put(7)
    finish(thread)
    assert outcome == ["empty", 7]


def test_queue_put_timeout_is_virtual(fake_clock: FakeClock) -> None:
    q: queue.Queue[int] = queue.Queue(maxsize=1)
    q.put(1)
    outcome: list[str] = []

    def putter() -> None:
        try:
            q.put(2, timeout=30)
            outcome.append("put")
        except queue.Full:
            outcome.append("full")

    thread = spawn(putter)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(30)
    finish(thread)
    assert outcome == ["full"]


def test_simple_queue_in_scope_parks_on_the_clock(fake_clock: FakeClock) -> None:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    assert isinstance(q, queue.SimpleQueue)
    outcome: list[object] = []

    def getter() -> None:
        try:
            outcome.append(q.get(timeout=5))
        except queue.Empty:
            outcome.append("empty")

    thread = spawn(getter)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(5)
    finish(thread)
    q.put(3)
    assert q.qsize() == 1 and q.get_nowait() == 3 and q.empty()
    assert outcome == ["empty"]


def test_executor_workers_are_in_scope_and_autojump(fake_clock: FakeClock) -> None:
    start = fake_clock.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(sleep_then_read, seconds) for seconds in (100, 50)]
        # the test's thread waits on the futures: both workers park, time jumps twice
        assert [f.result(timeout=500) for f in futures] == [start + 100, start + 50]
    assert fake_clock.monotonic() == start + 100


# -- the test thread's own timed waits ------------------------------------------------------------


def test_timed_wait_in_the_test_thread_jumps_to_the_earliest_deadline(
    fake_clock: FakeClock,
) -> None:
    event = threading.Event()
    start = fake_clock.monotonic()
    spawn(sleep_then, 480, event.set)
    real_start = _realtime.monotonic()
    assert event.wait(600) is True
    assert fake_clock.monotonic() == start + 480
    assert _realtime.monotonic() - real_start < 1.0


def test_timed_wait_in_the_test_thread_times_out_on_its_own_deadline(
    fake_clock: FakeClock,
) -> None:
    event = threading.Event()
    start = fake_clock.monotonic()
    spawn(time.sleep, 480)
    assert event.wait(5) is False
    assert fake_clock.monotonic() == start + 5
    assert [p.kind for p in fake_clock.pending] == ["time.sleep"]


def test_busy_thread_blocks_autojump_until_the_real_timeout(fake_clock: FakeClock) -> None:
    # a thread blocked where the clock cannot see (a raw lock) is not parked:
    # time must not jump; the test thread's wait ends after its timeout in real time
    gate = RealSignal()
    busy = spawn(gate.wait, 5.0)
    event = threading.Event()
    start, real_start = fake_clock.monotonic(), _realtime.monotonic()
    assert event.wait(0.05) is False
    assert _realtime.monotonic() - real_start >= 0.05
    assert fake_clock.monotonic() == start + 0.05
    gate.set()
    finish(busy)


# -- pending, advance_to_next, wait_for_sleepers --------------------------------------------------


def test_pending_lists_deadlines_by_thread_with_call_sites(fake_clock: FakeClock) -> None:
    start = fake_clock.monotonic()
    first = threading.Thread(target=time.sleep, args=(300,), name="late", daemon=True)
    second = threading.Thread(target=time.sleep, args=(30,), name="early", daemon=True)
    first.start()
    second.start()
    assert fake_clock.wait_for_sleepers(2, timeout=5)
    pending = fake_clock.pending
    assert [(p.thread_name, p.deadline, p.kind) for p in pending] == [
        ("early", start + 30, "time.sleep"),
        ("late", start + 300, "time.sleep"),
    ]
    assert pending[0].thread_ident == second.ident

    assert fake_clock.advance_to_next() == start + 30
    finish(second)
    assert fake_clock.advance_to_next() == start + 300
    finish(first)
    assert fake_clock.advance_to_next() is None
    assert fake_clock.pending == []


def test_pending_names_the_waiting_line(fake_clock: FakeClock) -> None:
    def sleeper() -> None:
        time.sleep(10)  # the line pending must name

    thread = spawn(sleeper)
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    (record,) = fake_clock.pending
    line = sleeper.__code__.co_firstlineno + 1
    assert record.site == f"{_callsite.short_path(__file__)}:{line}"
    fake_clock.advance(10)
    finish(thread)


def test_wait_for_sleepers_is_bounded_by_real_time(fake_clock: FakeClock) -> None:
    real_start = _realtime.monotonic()
    assert fake_clock.wait_for_sleepers(1, timeout=0.02) is False
    assert 0.02 <= _realtime.monotonic() - real_start < 1.0
    assert fake_clock.wait_for_sleepers(0, timeout=0.02) is True


# -- uninstall ------------------------------------------------------------------------------------


def test_uninstall_wakes_parked_threads() -> None:
    clock = FakeClock(datetime=False)
    woke = RealSignal()
    with clock:
        thread = spawn(sleep_then, 480, woke.set)
        assert clock.wait_for_sleepers(1, timeout=5)
    assert woke.wait(5)
    thread.join(5)
    assert not thread.is_alive()
