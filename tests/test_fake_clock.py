"""FakeClock's API: reading and moving time, installing, restoring, scope, captured imports."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import queue
import selectors
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency._clock import scoped
from pytest_concurrency.fake_clock import FakeClock

# -- reading --------------------------------------------------------------------------------------


def test_virtual_time_starts_at_the_real_readings() -> None:
    before_mono, before_wall = _realtime.monotonic(), _realtime.time()
    clock = FakeClock(datetime=False)
    after_mono, after_wall = _realtime.monotonic(), _realtime.time()
    assert before_mono <= clock.monotonic() <= after_mono
    assert before_wall - 1e-6 <= clock.time() <= after_wall + 1e-6
    assert abs(clock.perf_counter() - _realtime.perf_counter()) < 1.0


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), 1577836800.0),
        (dt.datetime(2020, 1, 1), 1577836800.0),  # naive means UTC
        (dt.datetime(2020, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), 1577836800.0),
        (1577836800, 1577836800.0),
        (1.5, 1.5),
    ],
)
def test_start_sets_the_wall_clock(start: Any, expected: float) -> None:
    clock = FakeClock(start=start, datetime=False)
    assert clock.time() == expected
    clock.advance(10)
    assert clock.time() == expected + 10


def test_the_three_clocks_move_together_and_ns_agree() -> None:
    clock = FakeClock(datetime=False)
    readings = (clock.monotonic(), clock.time(), clock.perf_counter())
    ns = (clock.monotonic_ns(), clock.time_ns(), clock.perf_counter_ns())
    assert clock.advance(90.5) == readings[0] + 90.5
    after = (clock.monotonic(), clock.time(), clock.perf_counter())
    assert [b - a for a, b in zip(readings, after, strict=True)] == pytest.approx([90.5] * 3)
    after_ns = (clock.monotonic_ns(), clock.time_ns(), clock.perf_counter_ns())
    assert [b - a for a, b in zip(ns, after_ns, strict=True)] == [90_500_000_000] * 3


# -- moving ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan"), float("inf")])
def test_advance_rejects_values_that_would_break_time(bad: float) -> None:
    clock = FakeClock(datetime=False)
    before = clock.monotonic()
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(bad)
    assert clock.monotonic() == before


@pytest.mark.parametrize("bad", ["1", None, True, [1]])
def test_advance_rejects_non_numbers(bad: Any) -> None:
    with pytest.raises(TypeError, match="seconds must be a number"):
        FakeClock(datetime=False).advance(bad)


def test_advance_to_moves_forward_only() -> None:
    clock = FakeClock(datetime=False)
    now = clock.monotonic()
    assert clock.advance_to(now + 5) == now + 5
    assert clock.advance_to(now + 5) == now + 5
    with pytest.raises(ValueError, match="monotonic_value must be >="):
        clock.advance_to(now)
    assert clock.monotonic() == now + 5


def test_advance_to_next_is_none_when_nobody_waits() -> None:
    clock = FakeClock(datetime=False)
    before = clock.monotonic()
    assert clock.advance_to_next() is None
    assert clock.monotonic() == before


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"start": "2020-01-01"}, TypeError, "start must be a datetime"),
        ({"datetime": "yes"}, TypeError, "datetime must be True or False"),
        ({"real_modules": "mypkg"}, TypeError, "real_modules must be an iterable"),
        ({"real_modules": [3]}, TypeError, "real_modules must hold module names"),
        (
            {"resume_timeout": 0},
            ValueError,
            "resume_timeout must be a finite number of seconds > 0",
        ),
        (
            {"resume_timeout": -1},
            ValueError,
            "resume_timeout must be a finite number of seconds > 0",
        ),
    ],
)
def test_constructor_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        FakeClock(**kwargs)


#: epoch seconds just past what datetime can show (year 9999), and far past it
_DATETIME_MAX = dt.datetime.max.replace(tzinfo=dt.timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("start", "error", "match"),
    [
        (1e300, ValueError, r"start must be within 0001-01-03 to 9999-12-29 UTC"),
        (_DATETIME_MAX + 1e6, ValueError, r"start must be within 0001-01-03 to 9999-12-29 UTC"),
        (-1e12, ValueError, r"start must be within 0001-01-03 to 9999-12-29 UTC"),
        (dt.datetime.max, ValueError, r"start must be within 0001-01-03 to 9999-12-29 UTC"),
        (float("nan"), ValueError, "start must be a finite number"),
        (float("inf"), ValueError, "start must be a finite number"),
        (True, TypeError, "start must be a datetime"),
    ],
)
def test_start_must_be_a_time_datetime_can_show(start: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match) as info:
        FakeClock(start=start)
    if error is ValueError and "within" in match:
        assert "datetime=False" in str(info.value)  # what to do about it


def test_without_datetime_start_only_needs_a_countable_time() -> None:
    assert FakeClock(start=1e12, datetime=False).time() == 1e12
    with pytest.raises(ValueError, match=r"start must be within -1.8e\+299 to 1.8e\+299"):
        FakeClock(start=1e300, datetime=False)


@pytest.mark.parametrize("move", ["advance", "advance_to"])
def test_time_cannot_move_past_what_datetime_can_show(move: str) -> None:
    with FakeClock() as clock:
        before = (clock.monotonic(), clock.time(), dt.datetime.now())
        target = 1e12 if move == "advance" else clock.monotonic() + 1e12
        name = "seconds" if move == "advance" else "monotonic_value"
        with pytest.raises(ValueError, match=f"{name}=.* past the end of its range") as info:
            getattr(clock, move)(target)
        assert "9999-12-29 UTC" in str(info.value)
        assert (clock.monotonic(), clock.time(), dt.datetime.now()) == before  # nothing lost
        clock.advance(1e10)  # 2300-odd: fine
        assert dt.datetime.now().year > 2300


def test_the_driver_sleeping_past_datetime_s_range_is_refused() -> None:
    with FakeClock() as clock:
        before = clock.monotonic()
        with pytest.raises(ValueError, match=r"seconds=1000000000000.0 would move"):
            time.sleep(1e12)
        assert clock.monotonic() == before


def test_without_datetime_only_uncountable_moves_are_refused() -> None:
    clock = FakeClock(datetime=False)
    clock.advance(1e12)
    before = clock.monotonic()
    with pytest.raises(ValueError, match=r"seconds=1e\+300 would move"):
        clock.advance(1e300)
    with pytest.raises(ValueError, match=r"monotonic_value=1e\+300 would move"):
        clock.advance_to(1e300)
    assert clock.monotonic() == before
    assert clock.monotonic_ns() > 0 and clock.time_ns() > 0


def test_wait_for_sleepers_rejects_bad_arguments() -> None:
    clock = FakeClock(datetime=False)
    with pytest.raises(ValueError, match="count must be an int >= 0"):
        clock.wait_for_sleepers(-1, timeout=1)
    with pytest.raises(TypeError, match="timeout must be a number"):
        clock.wait_for_sleepers(1, timeout=None)  # type: ignore[arg-type]


# -- installing and restoring ---------------------------------------------------------------------


def _globals() -> dict[str, Any]:
    """Every global the clock swaps, by a readable name."""
    found: dict[str, Any] = {f"time.{name}": getattr(time, name) for name in scoped.REPLACEMENTS}
    found.update(
        {
            "Condition.wait": threading.Condition.__dict__["wait"],
            "Thread.start": threading.Thread.__dict__["start"],
            "Thread.join": threading.Thread.__dict__["join"],
            "threading.Lock": threading.Lock,
            "threading.RLock": threading.RLock,
            "threading._time": threading._time,  # type: ignore[attr-defined]
            "queue.time": queue.time,  # type: ignore[attr-defined]
            "queue.SimpleQueue": queue.SimpleQueue,
            "datetime.datetime": dt.datetime,
            "datetime.date": dt.date,
        }
    )
    for cls in (selectors.SelectSelector, selectors.PollSelector, selectors.DefaultSelector):
        owner = next(k for k in cls.__mro__ if "select" in vars(k))
        found[f"{owner.__name__}.select"] = vars(owner)["select"]
    return found


def test_install_swaps_and_uninstall_restores_every_global() -> None:
    before = _globals()
    clock = FakeClock()
    clock.install()
    try:
        during = _globals()
        swapped = sorted(name for name in before if during[name] is not before[name])
        assert swapped == sorted(before)  # every one of them really was swapped
    finally:
        clock.uninstall()
    after = _globals()
    assert {name for name in before if after[name] is not before[name]} == set()
    assert not clock.installed


def test_globals_are_restored_after_an_exception_in_the_block() -> None:
    before = _globals()
    with pytest.raises(KeyError), FakeClock():
        raise KeyError("boom")
    assert all(_globals()[name] is value for name, value in before.items())
    assert scoped.installed() is None


def test_a_failing_install_restores_what_it_had_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_concurrency._clock import asyncio_patches

    def explode(patcher: Any) -> None:
        raise RuntimeError("cannot patch asyncio")

    monkeypatch.setattr(asyncio_patches, "install", explode)
    before = _globals()
    clock = FakeClock()
    with pytest.raises(RuntimeError, match="cannot patch asyncio"):
        clock.install()
    assert not clock.installed
    assert scoped.installed() is None
    assert all(_globals()[name] is value for name, value in before.items())


def test_one_clock_at_a_time() -> None:
    with FakeClock(datetime=False) as clock:
        assert clock.installed
        with pytest.raises(RuntimeError, match="already installed"):
            clock.install()
        with pytest.raises(RuntimeError, match="another FakeClock is already installed"):
            FakeClock(datetime=False).install()
    clock.uninstall()  # a no-op once uninstalled
    with FakeClock(datetime=False) as second:
        assert second.installed


def test_the_clock_reads_and_moves_after_uninstall() -> None:
    clock = FakeClock(datetime=False)
    with clock:
        time.sleep(100)
    assert time.monotonic is _realtime.monotonic
    frozen = clock.monotonic()
    assert clock.advance(5) == frozen + 5


# -- scope ----------------------------------------------------------------------------------------


def test_a_thread_started_before_install_keeps_real_time() -> None:
    go, done = _realtime.allocate_lock(), _realtime.allocate_lock()
    go.acquire()
    done.acquire()
    seen: dict[str, float] = {}

    def outsider() -> None:
        go.acquire(True, 5)
        seen["monotonic"] = time.monotonic()
        start = _realtime.monotonic()
        time.sleep(0.01)
        seen["slept"] = _realtime.monotonic() - start
        done.release()

    thread = threading.Thread(target=outsider, daemon=True)
    thread.start()
    with FakeClock(datetime=False) as clock:
        clock.advance(3600)
        go.release()
        assert done.acquire(True, 5)
        assert abs(seen["monotonic"] - _realtime.monotonic()) < 1.0
        assert seen["slept"] >= 0.01
        assert clock.pending == []
    thread.join(5)


def test_threads_started_by_in_scope_threads_are_in_scope(fake_clock: FakeClock) -> None:
    readings: list[float] = []

    def grandchild() -> None:
        readings.append(time.monotonic())

    def child() -> None:
        inner = threading.Thread(target=grandchild)
        inner.start()
        inner.join(5)

    fake_clock.advance(7200)
    outer = threading.Thread(target=child)
    outer.start()
    outer.join(5)
    assert readings == [fake_clock.monotonic()]


def test_harness_modules_keep_real_time_in_the_test_thread(fake_clock: FakeClock) -> None:
    from _pytest import timing

    fake_clock.advance(3600)
    assert timing.perf_counter is _realtime.perf_counter  # captured: never patched
    assert abs(timing.perf_counter() - _realtime.perf_counter()) < 1.0
    # a harness module calling the patched ``time.monotonic`` gets real time too
    namespace: dict[str, Any] = {"__name__": "pluggy._fake_caller", "time": time}
    exec("def read():\n    return time.monotonic()", namespace)
    assert abs(namespace["read"]() - _realtime.monotonic()) < 1.0
    assert time.monotonic() == fake_clock.monotonic()


def test_threads_started_by_harness_modules_stay_out_of_scope(fake_clock: FakeClock) -> None:
    # pytest-timeout starts its timer thread from its own module, mid-test
    readings: list[float] = []
    namespace: dict[str, Any] = {"__name__": "pytest_timeout", "threading": threading}
    exec(
        "def start(target):\n    t = threading.Thread(target=target)\n    t.start()\n    return t",
        namespace,
    )
    fake_clock.advance(3600)
    namespace["start"](lambda: readings.append(time.monotonic())).join(5)
    assert abs(readings[0] - _realtime.monotonic()) < 1.0


def test_infinite_and_nan_timeouts(fake_clock: FakeClock) -> None:
    cond = threading.Condition()
    with cond:
        assert cond.wait(float("nan")) is False  # the stdlib's answer: no wait at all
    lock = threading.Lock()
    lock.acquire()
    with pytest.raises(ValueError, match="NaN"):
        lock.acquire(timeout=float("nan"))
    event = threading.Event()

    def sleeper() -> None:
        time.sleep(30)
        event.set()

    threading.Thread(target=sleeper, daemon=True).start()
    start = fake_clock.monotonic()
    assert event.wait(float("inf")) is True  # no deadline of its own: jumps to the sleeper's
    assert fake_clock.monotonic() == start + 30


def test_real_modules_keep_real_time() -> None:
    namespace: dict[str, Any] = {"__name__": "mypkg.metrics", "time": time}
    exec("def read():\n    return time.monotonic()", namespace)
    with FakeClock(datetime=False, real_modules=["mypkg"]) as clock:
        clock.advance(3600)
        assert abs(namespace["read"]() - _realtime.monotonic()) < 1.0


# -- captured imports -----------------------------------------------------------------------------


@pytest.fixture
def captured_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A user module that captured ``monotonic`` at import, as a name and as a default."""
    (tmp_path / "user_timer_mod.py").write_text(
        textwrap.dedent(
            """
            import time
            from time import monotonic, sleep as nap

            def read(clock=time.monotonic):
                return clock()

            class Guard:
                def __init__(self, *, clock=monotonic):
                    self.clock = clock
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("user_timer_mod")
    yield module
    sys.modules.pop("user_timer_mod", None)


def test_captured_imports_see_virtual_time(captured_module: Any) -> None:
    with FakeClock(datetime=False) as clock:
        clock.advance(3600)
        assert captured_module.monotonic() == clock.monotonic()
        assert captured_module.read() == clock.monotonic()
        assert captured_module.Guard().clock() == clock.monotonic()
        assert "user_timer_mod" in clock.patched_modules
        assert {
            "user_timer_mod.monotonic",
            "user_timer_mod.nap",
            "user_timer_mod.read (default)",
            "user_timer_mod.Guard.__init__ (default)",
        } <= set(clock.patched_names)
    assert captured_module.monotonic is _realtime.monotonic
    assert captured_module.read.__defaults__ == (_realtime.monotonic,)
    assert captured_module.Guard.__init__.__kwdefaults__ == {"clock": _realtime.monotonic}


def test_threading_and_queue_captured_clocks_are_patched() -> None:
    with FakeClock(datetime=False) as clock:
        assert {"threading._time", "queue.time"} <= set(clock.patched_names)
        assert threading._time is scoped.monotonic  # type: ignore[attr-defined]


def test_modules_imported_during_the_test_follow_the_next_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "late_import_mod.py").write_text("from time import monotonic\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with FakeClock(datetime=False):
            module = importlib.import_module("late_import_mod")  # captures the stand-in
        assert abs(module.monotonic() - _realtime.monotonic()) < 1.0  # no clock: real
        with FakeClock(datetime=False) as clock:
            clock.advance(500)
            assert module.monotonic() == clock.monotonic()
    finally:
        sys.modules.pop("late_import_mod", None)


# -- datetime -------------------------------------------------------------------------------------


def test_datetime_follows_the_clock(fake_clock: FakeClock) -> None:
    fake_clock.advance(86400 * 3)
    expected = dt.datetime.fromtimestamp(fake_clock.time())
    assert abs(dt.datetime.now() - expected) < dt.timedelta(microseconds=2)
    utc_expected = dt.datetime.fromtimestamp(fake_clock.time(), dt.timezone.utc)
    assert abs(dt.datetime.now(dt.timezone.utc) - utc_expected) < dt.timedelta(microseconds=2)
    assert dt.date.today() == expected.date()


def test_datetime_in_worker_threads_follows_advance(fake_clock: FakeClock) -> None:
    seen: list[dt.datetime] = []
    before = dt.datetime.now()

    def worker() -> None:
        time.sleep(3600)
        seen.append(dt.datetime.now())

    thread = threading.Thread(target=worker)
    thread.start()
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(3600)
    thread.join(5)
    assert seen[0] - before == dt.timedelta(hours=1)


def test_datetime_false_leaves_datetime_real() -> None:
    with FakeClock(datetime=False) as clock:
        clock.advance(86400 * 30)
        assert dt.datetime is dt.datetime.now().__class__
        assert abs(dt.datetime.now().timestamp() - _realtime.time()) < 1.0


def test_freezegun_does_not_touch_the_real_clock_or_the_harness() -> None:
    from _pytest import timing

    with FakeClock() as clock:
        clock.advance(3600)
        assert type(_realtime.monotonic).__name__ == "builtin_function_or_method"
        assert timing.perf_counter is _realtime.perf_counter
        assert abs(_realtime.time() - dt.datetime.now().timestamp()) > 3000


def test_asyncio_loops_in_the_test_thread_use_the_same_clock(fake_clock: FakeClock) -> None:
    async def read() -> float:
        return asyncio.get_running_loop().time()

    fake_clock.advance(42)
    assert asyncio.run(read()) == fake_clock.monotonic()
