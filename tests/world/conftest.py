"""Every world test must leave the process as it found it: no thread, no patch."""

from __future__ import annotations

import _thread
import asyncio
import asyncio.events
import asyncio.tasks
import concurrent.futures.thread as cf_thread
import queue
import threading
import time
from collections.abc import Callable, Iterator

import pytest


def world_globals() -> dict[str, object]:
    """Every global a run swaps, by name (compared by identity after each test)."""
    names = {
        f"threading.{n}": getattr(threading, n)
        for n in ("Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore", "Event", "Barrier")
    }
    names.update(
        {
            f"time.{n}": getattr(time, n)
            for n in (
                "sleep",
                "monotonic",
                "monotonic_ns",
                "perf_counter",
                "perf_counter_ns",
                "time",
                "time_ns",
            )
        }
    )
    names.update(
        {
            "queue.SimpleQueue": queue.SimpleQueue,
            "queue.time": queue.time,  # type: ignore[attr-defined]
            "Thread.__init__": threading.Thread.__init__,
            "Thread.start": threading.Thread.start,
            "Thread.join": threading.Thread.join,
            "Thread.is_alive": threading.Thread.is_alive,
            "executor.shutdown": cf_thread.ThreadPoolExecutor.shutdown,
            "executor._global_shutdown_lock": cf_thread._global_shutdown_lock,  # type: ignore[attr-defined]
            "policy.new_event_loop": asyncio.events.BaseDefaultEventLoopPolicy.new_event_loop,
            "asyncio.all_tasks": asyncio.all_tasks,
            "asyncio.tasks.all_tasks": asyncio.tasks.all_tasks,
        }
    )
    return names


def _os_threads() -> int:
    """The interpreter's count of OS threads it started: pooled ones too, never listed."""
    return int(_thread._count())  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _leaves_no_trace() -> Iterator[None]:
    """No global left swapped, and -- checked by our own leak detector -- no thread left.

    The leak detector sees ``threading.Thread`` objects; the OS thread count
    also sees the explorations' pooled OS threads, which must all have ended.
    """
    from pytest_concurrency import _realtime
    from pytest_concurrency.leaks import LeakChecker

    before = world_globals()
    os_threads = _os_threads()
    checker = LeakChecker("threads", grace=1.0).start()
    yield
    report = checker.finish()
    after = world_globals()
    changed = [name for name, value in before.items() if after[name] is not value]
    assert not changed, f"globals not restored: {changed}"
    assert not report, report.format()
    deadline = _realtime.monotonic() + 2.0
    while _os_threads() > os_threads and _realtime.monotonic() < deadline:
        _realtime.sleep(0.01)  # a thread past its last Python line is still being torn down
    assert _os_threads() <= os_threads, f"{_os_threads() - os_threads} OS thread(s) left running"


@pytest.fixture
def world_state() -> Callable[[], dict[str, object]]:
    """:func:`world_globals`, for a test that checks them after each of many explorations."""
    return world_globals
