"""A warm-worker pool whose selector releases the worker lock before returning it.

The buggy selector finds an idle worker by acquiring its lock without
blocking, *releases* it, and returns the worker; the caller then tries to claim
it and, if another caller got there in between, falls back to a cold spawn.
The fixed selector returns the worker with its lock still held.
"""

from __future__ import annotations

import threading


class Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()


class BuggyPool:
    """Select-then-release: two callers can pick the same warm worker."""

    def __init__(self, size: int) -> None:
        self.workers = [Worker(f"w{i}") for i in range(size)]
        self.cold_spawns = 0

    def _select(self) -> Worker | None:
        for worker in self.workers:
            if worker.lock.acquire(blocking=False):
                worker.lock.release()
                return worker
        return None

    def run(self, job: str) -> str:
        worker = self._select()
        if worker is None or not worker.lock.acquire(blocking=False):
            self.cold_spawns += 1
            return f"{job}@cold"
        try:
            return f"{job}@{worker.name}"
        finally:
            worker.lock.release()


class FixedPool(BuggyPool):
    """The selector hands the worker over with its lock held; the caller releases it."""

    def _select(self) -> Worker | None:
        for worker in self.workers:
            if worker.lock.acquire(blocking=False):
                return worker
        return None

    def run(self, job: str) -> str:
        worker = self._select()
        if worker is None:
            self.cold_spawns += 1
            return f"{job}@cold"
        try:
            return f"{job}@{worker.name}"
        finally:
            worker.lock.release()


def _two_callers(pool_class: type[BuggyPool]) -> None:
    pool = pool_class(size=2)
    threads = [threading.Thread(target=pool.run, args=(f"job{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pool.cold_spawns == 0, "a warm worker was free but a caller spawned a cold one"


def buggy() -> None:
    _two_callers(BuggyPool)


def fixed() -> None:
    _two_callers(FixedPool)
