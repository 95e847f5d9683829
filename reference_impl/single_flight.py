"""Single flight: concurrent callers for one key share one call.

The cache stampede: on a cold vocabulary cache, every concurrent request saw
the cache file missing and re-encoded the whole vocabulary before the first
writer's rename landed (five duplicate builds per cold start). Its fix -- a
per-key lock plus a re-check inside the lock -- stops the duplicates but leaves
three defects that this module removes:

- a *failed* build is retried by every queued waiter in turn, one after the
  other; here the waiters that overlapped it receive the builder's exception
  (:class:`SingleFlight`);
- the lock registry only ever grows; here a key's entry lives exactly as long
  as a call for it is in flight (``lock_count`` returns to zero);
- the disk cache wrote a fixed ``.tmp`` name shared by writers, mapped ``a/b``
  and ``a:b`` to one file, and did not coordinate processes; see
  :class:`FileCache` and :mod:`reference_impl._files`.

Design choices:

- The leader runs ``fn`` in its own thread (or task); waiters block on a
  per-call event, not on a shared condition, so finishing one key wakes only
  that key's callers.
- The registry entry is removed *before* waiters are woken, so a call that
  starts after the result was published runs ``fn`` again: single flight
  deduplicates overlapping calls, it is not a cache.
- If the leader is interrupted by a ``BaseException`` that is not an
  ``Exception`` (``KeyboardInterrupt``, ``SystemExit``, task cancellation) the
  call is *abandoned*: the interruption belongs to the leader, so waiters are
  not handed it; they retry and one of them becomes the new leader.
- Waiters wait as long as the leader's ``fn`` runs, exactly as if they had
  called it themselves: bound ``fn``, not the wait.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from ._events import Signal, task_event, thread_event
from ._files import (
    encode_record,
    entry_name,
    exclusive_file_lock,
    read_record,
    write_atomically,
)
from ._tickets import InstallTickets
from ._validation import require_callable, require_hashable

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
E = TypeVar("E", bound=Signal)

#: the result slot of a call whose leader was interrupted before finishing
_ABANDONED: Any = object()


class _Flight(Generic[E]):
    """One call in flight. The leader fills ``value`` or ``error``, then sets ``done``."""

    __slots__ = ("done", "error", "value")

    def __init__(self, done: E) -> None:
        self.done = done
        self.value: Any = _ABANDONED
        self.error: Exception | None = None

    def outcome(self) -> Any:
        """After ``done``: the leader's value, its exception raised, or ``_ABANDONED``."""
        if self.error is not None:
            raise self.error
        return self.value


class _FlightTable(Generic[E]):
    """The registry of calls in flight, shared by the thread and asyncio versions.

    ``guard`` protects the dict: a real lock for threads, ``nullcontext`` for
    asyncio, where only one task runs between awaits.

    Invariant: ``_flights[key]`` is the newest unfinished call for ``key``; it is
    removed by its leader when the call ends, or earlier by :meth:`forget`.
    """

    def __init__(self, guard: AbstractContextManager[object], new_event: Callable[[], E]) -> None:
        self._guard = guard
        self._new_event = new_event
        self._flights: dict[Hashable, _Flight[E]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def join(self, key: Hashable) -> tuple[_Flight[E], bool]:
        """Return the call in flight for ``key`` and whether the caller must lead it."""
        with self._guard:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = _Flight(self._new_event())
            return flight, True

    @contextlib.contextmanager
    def leading(self, key: Hashable, flight: _Flight[E]) -> Iterator[None]:
        """Wrap the leader's call: publish its exception, retire the entry, wake waiters."""
        try:
            yield
        except Exception as exc:
            flight.error = exc
            raise
        finally:
            with self._guard:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()

    def forget(self, key: Hashable) -> None:
        """Make the next call for ``key`` start afresh even if one is still in flight."""
        with self._guard:
            self._flights.pop(key, None)


class SingleFlight:
    """Deduplicate concurrent calls per key (threads).

    ``do(key, fn)`` runs ``fn()`` unless a call for ``key`` is already in
    flight, in which case it waits for that call and returns its result or
    raises its exception (the same exception object). A call that starts after
    the previous one finished runs ``fn`` again.

    Lock order: one internal lock guarding the registry, never held while ``fn``
    runs or while waiting.

    Invariants: at most one ``fn`` per key runs at a time among callers that did
    not use :meth:`forget`; ``in_flight`` counts keys with a call running and is
    zero when none runs.
    """

    def __init__(self) -> None:
        self._table = _FlightTable(threading.Lock(), thread_event)

    @property
    def in_flight(self) -> int:
        """Number of keys with a call in flight."""
        return len(self._table)

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        """Return ``fn()``, sharing one call among overlapping callers for ``key``."""
        require_hashable("key", key)
        require_callable("fn", fn)
        while True:
            flight, leader = self._table.join(key)
            if leader:
                with self._table.leading(key, flight):
                    value = flight.value = fn()
                return value
            flight.done.wait()
            outcome = flight.outcome()
            if outcome is not _ABANDONED:
                return cast(T, outcome)

    def forget(self, key: Hashable) -> None:
        """Let the next ``do(key, ...)`` run ``fn`` even while a call is in flight.

        Callers already waiting keep waiting for the old call.
        """
        require_hashable("key", key)
        self._table.forget(key)


class AsyncSingleFlight:
    """The asyncio twin of :class:`SingleFlight`: ``await do(key, fn)`` with ``fn`` async.

    Cancelling a waiter cancels only that waiter. Cancelling the leader abandons
    the call and one waiter takes over. Use from one event loop.
    """

    def __init__(self) -> None:
        self._table = _FlightTable(contextlib.nullcontext(), task_event)

    @property
    def in_flight(self) -> int:
        """Number of keys with a call in flight."""
        return len(self._table)

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        """Return ``await fn()``, sharing one call among overlapping callers for ``key``."""
        require_hashable("key", key)
        require_callable("fn", fn)
        while True:
            flight, leader = self._table.join(key)
            if leader:
                with self._table.leading(key, flight):
                    value = flight.value = await fn()
                return value
            await flight.done.wait()
            outcome = flight.outcome()
            if outcome is not _ABANDONED:
                return cast(T, outcome)

    def forget(self, key: Hashable) -> None:
        """Let the next ``do(key, ...)`` run ``fn`` even while a call is in flight."""
        require_hashable("key", key)
        self._table.forget(key)


class BuildOnceCache(Generic[K, V]):
    """Load each key once and keep it; different keys load in parallel.

    ``get(key)`` returns the cached value without locking; on a miss, callers
    that overlap share one ``loader(key)`` call (a :class:`SingleFlight`), whose
    leader re-checks the cache first -- a caller that missed just before the
    previous load installed its value must not load again. A failing load is
    not cached: overlapping callers get its exception, a later ``get`` retries.

    ``invalidate(key)`` drops the value and detaches any load in flight: callers
    that arrive afterwards start a fresh load, and the old load does not install
    its (possibly stale) result, thanks to an install ticket
    (:mod:`reference_impl._tickets`).

    Lock order: the cache lock, then the single flight's registry lock (only
    ``invalidate`` nests them); ``loader`` runs with no lock held.

    Invariants: ``loader`` runs at most once per key between invalidations
    while callers overlap, and never again once the value is cached; after the
    loads finish, ``lock_count`` is back to zero.
    """

    def __init__(self, loader: Callable[[K], V]) -> None:
        require_callable("loader", loader)
        self._loader = loader
        self._lock = threading.Lock()
        self._values: dict[K, V] = {}
        self._tickets: InstallTickets[K] = InstallTickets()
        self._flight = SingleFlight()

    @property
    def lock_count(self) -> int:
        """Number of per-key build slots alive (keys being loaded right now)."""
        return self._flight.in_flight

    def get(self, key: K) -> V:
        """Return the value for ``key``, loading it once if it is not cached."""
        require_hashable("key", key)
        try:
            return self._values[key]  # a dict read is atomic: no lock on the hot path
        except KeyError:
            pass
        return self._flight.do(key, lambda: self._load(key))

    def invalidate(self, key: K) -> None:
        """Forget ``key``'s value; the next ``get`` loads it again."""
        require_hashable("key", key)
        with self._lock:
            self._flight.forget(key)
            self._tickets.revoke(key)
            self._values.pop(key, None)

    def _load(self, key: K) -> V:
        with self._lock:
            if key in self._values:  # re-check: a load may have finished since our miss
                return self._values[key]
            ticket = self._tickets.issue(key)
        try:
            value = self._loader(key)
        except BaseException:
            with self._lock:
                self._tickets.redeem(key, ticket)
            raise
        with self._lock:
            if self._tickets.redeem(key, ticket):
                self._values[key] = value
        return value


class FileCache:
    """A directory of built values, built once per key across threads *and* processes.

    ``get(key)`` returns the bytes stored for ``key``, calling ``build(key)``
    only if no process has stored them yet. Lookup order: read the file (no
    lock; ``os.replace`` makes every read see a whole record); on a miss, join
    the in-process single flight; its leader takes the key's file lock,
    re-reads the file (another process may have built it meanwhile), and only
    then builds and writes atomically.

    Files in ``directory``: ``<stem>.cache`` (the record), ``<stem>.lock``
    (the cross-process lock, never deleted) and, briefly, ``<stem>.*.tmp``.
    ``<stem>`` is :func:`reference_impl._files.entry_name` of the key.

    Lock order: the in-process single flight (one leader per key), then the
    key's file lock; ``build`` runs holding only the file lock.

    Invariants: between invalidations, ``build(key)`` runs once while callers
    overlap, whichever process they run in (with ``fcntl``; in-process only on
    Windows); a reader never sees a torn or foreign record.

    ``flock`` locks belong to the open file, so two ``FileCache`` objects in one
    process exclude each other on a local file system; on NFS, ``flock`` may be
    emulated per process -- use one object per directory per process there.
    """

    def __init__(self, directory: str | os.PathLike[str], build: Callable[[str], bytes]) -> None:
        require_callable("build", build)
        self._directory = Path(directory)
        self._directory.mkdir(parents=True, exist_ok=True)
        self._build = build
        self._flight = SingleFlight()

    def path_for(self, key: str) -> Path:
        """Return the file that holds ``key``'s record (it may not exist yet)."""
        _require_str_key(key)
        return self._directory / (entry_name(key) + ".cache")

    def get(self, key: str) -> bytes:
        """Return ``key``'s bytes, building and storing them once if absent."""
        path = self.path_for(key)
        payload = read_record(path, key)
        if payload is not None:
            return payload
        return self._flight.do(key, lambda: self._build_under_file_lock(key, path))

    def invalidate(self, key: str) -> None:
        """Delete ``key``'s record; waits for a build in progress (in any process)."""
        path = self.path_for(key)
        with exclusive_file_lock(path.with_suffix(".lock")):
            path.unlink(missing_ok=True)
            # a leader that just wrote the file may not have retired its flight yet:
            # callers arriving after we return must not join it and get the old bytes
            self._flight.forget(key)

    def _build_under_file_lock(self, key: str, path: Path) -> bytes:
        with exclusive_file_lock(path.with_suffix(".lock")):
            payload = read_record(path, key)
            if payload is not None:
                return payload
            built = self._build(key)
            if not isinstance(built, bytes):
                raise TypeError(f"build must return bytes, got {type(built).__name__}")
            write_atomically(path, encode_record(key, built))
            return built


def _require_str_key(key: object) -> None:
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, got {type(key).__name__}: {key!r}")
