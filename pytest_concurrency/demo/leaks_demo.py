"""Demo section: the leak detectors catch a forgotten thread and a lock map that only grows.

Each buggy row has a fixed twin that must report nothing. The forgotten thread
waits on an event that the demo sets afterwards, and the demo joins it, so the
demonstration itself leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.leaks import LeakChecker, LeakReport

TITLE = "Leak detectors"

#: request ids served in the lock map rows
REQUESTS = 50
#: the checker's grace period here: short, since the demo's threads never finish by themselves
_GRACE = 0.05
#: how long the demo waits for its own thread to stop (never reached in practice)
_JOIN_TIMEOUT = 5.0


def start_worker(stop: threading.Event) -> threading.Thread:
    """Start a background worker that runs until ``stop`` is set."""
    worker = threading.Thread(target=stop.wait, args=(_JOIN_TIMEOUT,), name="demo-worker")
    worker.start()
    return worker


def fire_and_forget(stop: threading.Event) -> threading.Thread:
    """Buggy: starts the worker and returns without stopping or joining it."""
    return start_worker(stop)


def start_stop_join(stop: threading.Event) -> threading.Thread:
    """Fixed: the worker is stopped and joined before returning."""
    worker = start_worker(stop)
    stop.set()
    worker.join(_JOIN_TIMEOUT)
    return worker


class LockStore:
    """A config store reduced to its lock map: one ``asyncio.Lock`` per key.

    With ``drop_unused_locks=False`` (the bug) every distinct key -- one per
    request id -- adds a lock that nothing ever removes. The fix counts the
    callers using each key's lock and drops the lock when the last one is
    done; never earlier, since dropping a lock someone holds or waits for
    would let a newcomer take a fresh lock and split mutual exclusion.
    """

    def __init__(self, drop_unused_locks: bool) -> None:
        self.locks: dict[str, asyncio.Lock] = {}
        self.saved: dict[str, str] = {}
        self._users: dict[str, int] = {}
        self._drop_unused_locks = drop_unused_locks

    async def save(self, key: str, value: str) -> None:
        lock = self.locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                self.saved[key] = value
        finally:
            self._users[key] -= 1
            if self._drop_unused_locks and self._users[key] == 0:
                del self._users[key], self.locks[key]


def _serve(store: LockStore) -> None:
    async def requests() -> None:
        await asyncio.gather(*(store.save(f"request-{i}", "config") for i in range(REQUESTS)))

    asyncio.run(requests())


def _timed(check: Callable[[], LeakReport]) -> tuple[LeakReport, float]:
    started = _realtime.perf_counter()
    report = check()
    return report, _realtime.perf_counter() - started


def _thread_row(
    name: str, body: Callable[[threading.Event], threading.Thread], leaks_expected: bool
) -> Outcome:
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def check() -> LeakReport:
        checker = LeakChecker("threads", grace=_GRACE).start()
        workers.append(body(stop))
        return checker.finish()

    try:
        report, seconds = _timed(check)
    finally:  # the demo leaves nothing behind
        stop.set()
        for worker in workers:
            worker.join(_JOIN_TIMEOUT)
    leaked = report.by_kind("threads")
    site = leaked[0].site if leaked else None
    observed = report.summary()
    if site is not None:
        observed += f", created at {os.path.basename(site.filename)}:{site.lineno}"
    ok = (len(leaked) == 1 and site is not None) if leaks_expected else not report
    expected = "1 leaked thread + creation site" if leaks_expected else "no leaks"
    return Outcome(name, expected, observed, ok, seconds, report.format() if report else "")


def _lock_map_row(name: str, drop_unused_locks: bool) -> Outcome:
    store = LockStore(drop_unused_locks)

    def check() -> LeakReport:
        checker = LeakChecker(())
        checker.watch(store.locks, name="LockStore.locks", max_growth=0)
        checker.start()
        _serve(store)
        return checker.finish()

    report, seconds = _timed(check)
    growth = len(store.locks)
    observed = f"reported growth of {growth}" if report else "no growth"
    if drop_unused_locks:
        expected, ok = "no growth", not report
    else:
        expected, ok = f"reported growth of {REQUESTS}", bool(report) and growth == REQUESTS
    return Outcome(name, expected, observed, ok, seconds, report.format() if report else "")


def run() -> list[Outcome]:
    """The section's rows, each bug followed by its fix."""
    return [
        _thread_row("thread started, never joined", fire_and_forget, leaks_expected=True),
        _thread_row("fixed: stopped and joined", start_stop_join, leaks_expected=False),
        _lock_map_row("lock map keyed by request id", drop_unused_locks=False),
        _lock_map_row("fixed: lock dropped by its last user", drop_unused_locks=True),
    ]
