"""An older save overwriting a newer one: two saves of one key, no lock between them.

Each save awaits the backend and then updates the cache; with nothing to
order them, the first save's write can land after the second's, and the store
ends up holding the older value. The fixed store takes the key's lock before
its first await, so saves are applied in the order they were called
(``asyncio.Lock`` wakes its waiters first-in, first-out).
"""

from __future__ import annotations

import asyncio

from pytest_concurrency.demo.zoo.aio_backend import Backend


class BuggyStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.cache: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def save(self, key: str, value: str) -> None:
        await self._backend.store(key, value)
        self.cache[key] = value


class FixedStore(BuggyStore):
    async def save(self, key: str, value: str) -> None:
        async with self._locks.setdefault(key, asyncio.Lock()):
            await super().save(key, value)


async def _last_save_wins(store_class: type[BuggyStore]) -> None:
    backend = Backend()
    store = store_class(backend)
    called: list[str] = []

    async def save(value: str) -> None:
        called.append(value)  # the order in which the saves were made
        await store.save("docs", value)

    await asyncio.gather(save("v1"), save("v2"))
    newest = called[-1]
    assert backend.data["docs"] == newest, f"the backend kept an older save, not {newest}"
    assert store.cache["docs"] == newest, f"the cache kept an older save, not {newest}"


async def buggy() -> None:
    await _last_save_wins(BuggyStore)


async def fixed() -> None:
    await _last_save_wins(FixedStore)
