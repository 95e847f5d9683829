"""A semaphore waiter cancelled right after being woken takes the wake-up with it.

``release`` hands its permit's wake-up to the first waiter. If that waiter is
cancelled after being woken but before it runs, it leaves with
``CancelledError`` and the wake-up is lost: the permit is free, but the next
waiter sleeps on, forever. CPython's own ``asyncio.Semaphore`` and ``Lock``
had this bug more than once; this is a small user-level semaphore with it.
The fixed twin passes the wake-up on when it is cancelled after being woken.
Found only with cancellation injected (``inject_cancel=1``).
"""

from __future__ import annotations

import asyncio
from collections import deque


class BuggySemaphore:
    def __init__(self, value: int) -> None:
        self.value = value
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        while self.value <= 0:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                self._cancelled(waiter)
                raise
            finally:
                self._waiters.remove(waiter)
        self.value -= 1

    def release(self) -> None:
        self.value += 1
        self._wake_one()

    def _wake_one(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                return

    def _cancelled(self, waiter: asyncio.Future[None]) -> None:
        """A waiter was cancelled: nothing to do (the bug)."""


class FixedSemaphore(BuggySemaphore):
    def _cancelled(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done() and not waiter.cancelled():  # woken, then cancelled: pass it on
            self._wake_one()


async def _permits_reach_every_waiter(semaphore_class: type[BuggySemaphore]) -> None:
    semaphore = semaphore_class(1)

    async def user() -> None:
        await semaphore.acquire()
        try:
            await asyncio.sleep(0)
        finally:
            semaphore.release()

    users = [asyncio.ensure_future(user()) for _ in range(3)]
    await asyncio.gather(*users, return_exceptions=True)  # a cancelled user is fine
    assert semaphore.value == 1


async def buggy() -> None:
    await _permits_reach_every_waiter(BuggySemaphore)


async def fixed() -> None:
    await _permits_reach_every_waiter(FixedSemaphore)
