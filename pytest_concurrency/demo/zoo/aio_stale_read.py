"""A config store's stale read: a cache miss served outside the key's lock installs old data.

``get`` misses the cache, awaits the backend, and installs what it read -- but
a ``save`` of a newer value may complete while the load is in flight, and the
load then overwrites it: the cache serves the old config until the next
clear. The fixed store serves a miss under the key's lock and checks the cache
again once it holds it, so a load and a save of one key never overlap.
"""

from __future__ import annotations

import asyncio

from pytest_concurrency.demo.zoo.aio_backend import Backend


class BuggyStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._cache: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def get(self, key: str) -> str:
        if key in self._cache:
            return self._cache[key]
        value = await self._backend.load(key)  # not under the lock: a save may land meanwhile
        self._cache[key] = value
        return value

    async def save(self, key: str, value: str) -> None:
        async with self._lock(key):
            await self._backend.store(key, value)
            self._cache[key] = value


class FixedStore(BuggyStore):
    async def get(self, key: str) -> str:
        if key in self._cache:
            return self._cache[key]
        async with self._lock(key):
            if key in self._cache:  # a save (or another load) landed while we waited
                return self._cache[key]
            value = await self._backend.load(key)
            self._cache[key] = value
            return value


async def _newest_save_wins(store_class: type[BuggyStore]) -> None:
    backend = Backend({"docs": "v1"})
    store = store_class(backend)
    await asyncio.gather(store.get("docs"), store.save("docs", "v2"))
    assert await store.get("docs") == "v2", "a stale read overwrote a newer save in the cache"


async def buggy() -> None:
    await _newest_save_wins(BuggyStore)


async def fixed() -> None:
    await _newest_save_wins(FixedStore)
