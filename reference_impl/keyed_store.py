"""A per-key locked, cached store for asyncio.

A config store (``ConfigStore``) serialised reads and writes per corpus with an
``asyncio.Lock`` per key, and its ``clear_cache(key)`` dropped the key's lock
so that ephemeral keys would not leak locks. Dropping a lock that somebody
holds splits mutual exclusion: the holder keeps the old lock object, the next
caller creates a new one, and both run at once -- which is how an older save
came to overwrite a newer one and a stale read came to be installed over a
save. The case is easy to miss: right after a holder releases,
``lock.locked()`` is False while the woken waiter has not resumed yet, so "drop
it if it is not locked" is still wrong.

Design choices:

- Locks are reference-counted (:class:`_KeyedLocks`): a key's lock exists
  exactly while a task holds it *or waits on it* (a woken waiter still counts),
  and is dropped by the last user. The registry returns to its baseline by
  itself, so ``clear`` never needs to touch a lock -- and never can drop one in
  use. That removes both the leak and the split.
- A cache miss loads from the backend *under the key's lock*, so a load and a
  save of one key never overlap: the order in which tasks acquire the lock is
  the order of the writes, and the last save always wins, in the cache and in
  the backend.
- ``clear`` does not take the lock (it is synchronous), so a load may be in
  flight across a ``clear``. The load takes an install ticket
  (:mod:`reference_impl._tickets`) and installs its result only if no
  ``clear`` revoked the ticket meanwhile: a get never installs data that an
  invalidation has declared stale.
- The cache holds private copies: ``get`` returns a copy and ``save`` stores
  one (and hands the backend another), so a caller mutating its object cannot
  change what other callers read.
- If ``backend.store`` fails or is cancelled, the backend's state is unknown,
  so the key's cache entry is dropped and the next ``get`` reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Hashable
from copy import deepcopy
from typing import Any, Generic, Protocol, TypeVar, cast

from ._tickets import InstallTickets
from ._validation import require_callable, require_hashable

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
K_contra = TypeVar("K_contra", contravariant=True)

_MISSING: Any = object()


class Backend(Protocol[K_contra, V]):
    """The durable store behind a :class:`KeyedStore`."""

    async def load(self, key: K_contra) -> V:
        """Return the stored value for ``key`` (or the backend's default)."""
        ...

    async def store(self, key: K_contra, value: V) -> None:
        """Persist ``value`` for ``key``."""
        ...


class _LockEntry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # tasks holding the lock or waiting for it


class _KeyedLocks(Generic[K]):
    """One ``asyncio.Lock`` per key, alive exactly while a task holds or awaits it.

    Invariant: ``_entries[key].users`` is the number of tasks inside
    :meth:`hold` for ``key`` (waiting or holding) and is never zero while the
    entry is in the map. Single event loop; no awaits between the bookkeeping
    steps, so they need no lock of their own.
    """

    def __init__(self) -> None:
        self._entries: dict[K, _LockEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @contextlib.asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        """Hold ``key``'s lock for the ``async with`` body."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _LockEntry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]


class KeyedStore(Generic[K, V]):
    """Cached, per-key serialised access to an async ``backend`` (one event loop).

    Lock order: one lock per key, never two at once; ``clear`` takes none.

    Invariants: for each key, loads and saves run one at a time, in lock order;
    after ``await save(k, v)`` returns, ``get(k)`` returns (a copy of) ``v``
    until the next save or ``clear``; no load installs a value after a
    ``clear`` that overlapped it; ``lock_count`` counts only keys with a task
    holding or waiting, so it returns to zero when the store is idle.
    """

    def __init__(self, backend: Backend[K, V], *, copy: Callable[[V], V] = deepcopy) -> None:
        for method in ("load", "store"):
            if not callable(getattr(backend, method, None)):
                raise TypeError(
                    "backend must have async load(key) and store(key, value) methods, "
                    f"got {backend!r}"
                )
        require_callable("copy", copy)
        self._backend = backend
        self._copy = copy
        self._cache: dict[K, V] = {}
        self._locks: _KeyedLocks[K] = _KeyedLocks()
        self._tickets: InstallTickets[K] = InstallTickets()

    @property
    def lock_count(self) -> int:
        """Number of keys whose lock is held or awaited right now."""
        return len(self._locks)

    async def get(self, key: K) -> V:
        """Return a copy of ``key``'s value, loading it from the backend on a miss."""
        require_hashable("key", key)
        cached = self._cache.get(key, _MISSING)
        if cached is not _MISSING:
            return self._copy(cast(V, cached))
        async with self._locks.hold(key):
            cached = self._cache.get(key, _MISSING)  # a save or load may have landed
            if cached is not _MISSING:
                return self._copy(cast(V, cached))
            ticket = self._tickets.issue(key)
            try:
                loaded = await self._backend.load(key)
            except BaseException:
                self._tickets.redeem(key, ticket)
                raise
            snapshot = self._copy(loaded)
            if self._tickets.redeem(key, ticket):
                self._cache[key] = snapshot
            return self._copy(snapshot)

    async def save(self, key: K, value: V) -> None:
        """Store a copy of ``value`` for ``key`` in the backend, then in the cache."""
        require_hashable("key", key)
        snapshot = self._copy(value)  # taken now: later mutation by the caller is ignored
        async with self._locks.hold(key):
            try:
                await self._backend.store(key, self._copy(snapshot))
            except BaseException:
                self._cache.pop(key, None)  # the backend may or may not hold the value
                raise
            self._cache[key] = snapshot

    def clear(self, key: K | None = None) -> None:
        """Drop ``key``'s cached value (every key's when ``None``); locks are never dropped.

        A lock in the registry is by construction held or awaited, so there is
        nothing idle to drop; loads in flight are told not to install.
        """
        if key is None:
            self._cache.clear()
            self._tickets.revoke_all()
            return
        require_hashable("key", key)
        self._cache.pop(key, None)
        self._tickets.revoke(key)
