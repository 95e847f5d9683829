"""What asyncio's synchronisation objects do to themselves, told to a reducing strategy.

``asyncio.Lock``, ``Event``, ``Condition``, ``Semaphore``, ``Queue`` and
``Barrier`` are plain Python whose code is never traced (it is the standard
library's): a task taking a lock changes nothing any memory point sees. For
the partial-order reduction (:mod:`..dpor`) that would make two tasks' lock
operations independent, and reorderings that matter would be skipped. So
during a run explored with ``strategy="dpor"`` their methods are wrapped to
report what each call does to its object, as the controlled thread primitives
report theirs:

- taking a lock or a semaphore unit that is free: an acquire; finding it
  taken: a wait (the step that takes it later, after the wake-up, is the
  acquire); giving it back: a release;
- waiting for an event already set, ``locked()``, ``is_set()``, ``empty()``,
  ``full()``, ``qsize()``: reads; waiting for an event not set: a wait;
- everything else (``set``, ``clear``, ``notify``, ``Condition.wait``, a
  queue's ``put`` and ``get``, ``task_done``, a barrier's ``wait``): a write.

What a wake-up orders (a release before the waiter's next step, a ``set``
before the waiters') the loop already tells the reduction: a step happens
after the event that scheduled it (see :mod:`.actors`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from pytest_concurrency._patching import Patcher
from pytest_concurrency.world.events import ACQUIRE, READ, RELEASE, WAIT, WRITE
from pytest_concurrency.world.locations import STATE
from pytest_concurrency.world.memory import MemoryAccess
from pytest_concurrency.world.scheduler import controlling_scheduler

__all__ = ["SyncAccess", "install", "touched"]


class SyncAccess(MemoryAccess):
    """An operation of a synchronisation object on itself: not an access of the user's memory."""

    __slots__ = ()

    counted = False


def touched(obj: object, mode: str) -> None:
    """The running event did ``mode`` to all of ``obj`` (for a reducing strategy only)."""
    sched = controlling_scheduler()
    if sched is not None and sched.events is not None:
        sched.touch(SyncAccess([(obj, STATE, mode)]))


_note = touched


def _plain(original: Callable[..., Any], mode: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: object, *args: Any, **kwargs: Any) -> Any:
        _note(self, mode)
        return original(self, *args, **kwargs)

    return method


def _awaited(original: Callable[..., Any], mode: str) -> Callable[..., Any]:
    @functools.wraps(original)
    async def method(self: object, *args: Any, **kwargs: Any) -> Any:
        _note(self, mode)
        return await original(self, *args, **kwargs)

    return method


def _acquiring(original: Callable[..., Any], free: Callable[[Any], bool]) -> Callable[..., Any]:
    """``acquire`` of a lock or semaphore: an acquire now, or a wait and an acquire later."""

    @functools.wraps(original)
    async def acquire(self: object) -> Any:
        now = free(self)
        _note(self, ACQUIRE if now else WAIT)
        result = await original(self)
        if not now:
            _note(self, ACQUIRE)  # in the step that took it, after the wake-up
        return result

    return acquire


def _lock_free(lock: Any) -> bool:
    """Would ``asyncio.Lock.acquire`` take the lock without waiting (its own test)?"""
    waiters = getattr(lock, "_waiters", None)
    return not lock._locked and (waiters is None or all(w.cancelled() for w in waiters))


def _semaphore_free(semaphore: Any) -> bool:
    """Would ``asyncio.Semaphore.acquire`` take a unit without waiting?"""
    if semaphore._value <= 0:
        return False
    waiters = getattr(semaphore, "_waiters", None) or ()
    return not any(not w.cancelled() for w in waiters)


def _waiting(original: Callable[..., Any], busy: Callable[[Any], bool]) -> Callable[..., Any]:
    """A wait that returns at once unless ``busy``: a read, or a wait."""

    @functools.wraps(original)
    async def wait(self: Any) -> Any:
        _note(self, WAIT if busy(self) else READ)
        return await original(self)

    return wait


def _wrappers() -> list[tuple[type, str, Callable[..., Any]]]:
    """(class, method name, wrapper) for every method reported, made from the originals."""
    lock, event, condition = asyncio.Lock, asyncio.Event, asyncio.Condition
    # BoundedSemaphore.release checks its bound, then calls Semaphore.release (wrapped)
    semaphore, queue = asyncio.Semaphore, asyncio.Queue
    found: list[tuple[type, str, Callable[..., Any]]] = [
        (lock, "acquire", _acquiring(lock.acquire, _lock_free)),
        (lock, "release", _plain(lock.release, RELEASE)),
        (lock, "locked", _plain(lock.locked, READ)),
        (event, "wait", _waiting(event.wait, lambda event: not event._value)),
        (event, "set", _plain(event.set, WRITE)),
        (event, "clear", _plain(event.clear, WRITE)),
        (event, "is_set", _plain(event.is_set, READ)),
        (condition, "wait", _awaited(condition.wait, WRITE)),
        (condition, "notify", _plain(condition.notify, WRITE)),
        (condition, "notify_all", _plain(condition.notify_all, WRITE)),
        (semaphore, "acquire", _acquiring(semaphore.acquire, _semaphore_free)),
        (semaphore, "release", _plain(semaphore.release, RELEASE)),
        (semaphore, "locked", _plain(semaphore.locked, READ)),
        (queue, "put", _awaited(queue.put, WRITE)),
        (queue, "get", _awaited(queue.get, WRITE)),
        (queue, "put_nowait", _plain(queue.put_nowait, WRITE)),
        (queue, "get_nowait", _plain(queue.get_nowait, WRITE)),
        (queue, "task_done", _plain(queue.task_done, WRITE)),
        (queue, "join", _waiting(queue.join, lambda queue: queue._unfinished_tasks > 0)),
        (queue, "empty", _plain(queue.empty, READ)),
        (queue, "full", _plain(queue.full, READ)),
        (queue, "qsize", _plain(queue.qsize, READ)),
    ]
    barrier = getattr(asyncio, "Barrier", None)  # 3.11+
    if barrier is not None:
        found += [
            (barrier, "wait", _awaited(barrier.wait, WRITE)),
            (barrier, "reset", _awaited(barrier.reset, WRITE)),
            (barrier, "abort", _awaited(barrier.abort, WRITE)),
        ]
    return found


_WRAPPERS: list[tuple[type, str, Callable[..., Any]]] | None = None


def install(patcher: Patcher) -> None:
    """Report asyncio's synchronisation operations for this run (undone by ``patcher``)."""
    global _WRAPPERS
    if _WRAPPERS is None:
        _WRAPPERS = _wrappers()
    for owner, name, wrapper in _WRAPPERS:
        patcher.setattr(owner, name, wrapper)
