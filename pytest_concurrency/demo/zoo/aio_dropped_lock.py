"""A config store's clear drops a held lock: the next caller makes a new one, and two hold "it".

``clear(key)`` also dropped the key's lock so that short-lived keys would not
leak locks. A save holding the old lock keeps it; the next save finds no lock,
creates a fresh one and enters too -- mutual exclusion is split and two writes
of one key overlap. The fixed store counts the users of each key's lock
(holders and waiters) and drops it only when the last one leaves, so the lock
map still returns to empty, and ``clear`` never touches a lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pytest_concurrency.demo.zoo.aio_backend import Backend


class BuggyStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._cache: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def lock_count(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def _hold(self, key: str) -> AsyncIterator[None]:
        async with self._locks.setdefault(key, asyncio.Lock()):
            yield

    async def save(self, key: str, value: str) -> None:
        async with self._hold(key):
            await self._backend.store(key, value)
            self._cache[key] = value

    def clear(self, key: str) -> None:
        self._cache.pop(key, None)
        self._locks.pop(key, None)  # "so that ephemeral keys leave no stale lock behind"


class FixedStore(BuggyStore):
    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def _hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # the last user leaves: nobody holds or awaits it
                del self._users[key]
                del self._locks[key]

    def clear(self, key: str) -> None:
        self._cache.pop(key, None)  # a lock in the map is in use by construction


async def _one_writer_per_key(store_class: type[BuggyStore]) -> BuggyStore:
    backend = Backend()
    store = store_class(backend)

    async def clear_soon() -> None:
        await asyncio.sleep(0)
        store.clear("docs")

    await asyncio.gather(store.save("docs", "v1"), clear_soon(), store.save("docs", "v2"))
    assert backend.max_writers == 1, "two saves of one key wrote at once: its lock was split"
    return store


async def buggy() -> None:
    await _one_writer_per_key(BuggyStore)


async def fixed() -> None:
    store = await _one_writer_per_key(FixedStore)
    assert store.lock_count == 0, "the lock map did not return to empty"
