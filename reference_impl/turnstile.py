"""Ordered turnstile: parallel work, one step serialised in key order.

An offline-sync pipeline: backlog audio segments were transcribed in parallel
and each then looked for a nearby conversation to merge into; none had saved
one yet, so every segment created its own conversation. The fix lets the slow
work stay parallel and serialises only the lookup/create/merge step in
timestamp order with an ``_OrderedTurnstile``. Its review found the points this
module makes explicit:

- a segment that returns early (silence) must still release its turn, or every
  later segment waits forever -- :meth:`OrderedTurnstile.turn` completes on
  every exit path, and :meth:`~OrderedTurnstile.complete` is valid for a key
  that never waited (the "silent segment" case);
- the wait is fail-open: after ``timeout`` the caller proceeds out of order
  rather than deadlocking, and its later ``complete`` still advances the turn
  past it;
- the original predicate ``lambda: self._advance() or ...`` mutated state inside
  a ``wait_for`` predicate; here the bookkeeping (:class:`_TurnOrder`) is a
  plain object with no side effects hidden in expressions.

Design choices: the turn of the key at position ``p`` has come once every key
before it has completed. That moment is monotonic, so each position gets its
own event, set exactly once; a completion wakes only the positions it released
(no ``notify_all`` thundering herd), and the thread and asyncio versions share
the bookkeeping and differ only in the event they wait on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Iterator
from typing import Generic, TypeVar

from ._events import Signal, task_event, thread_event
from ._validation import require_hashable, require_seconds, require_unique_keys

K = TypeVar("K", bound=Hashable)


Ev = TypeVar("Ev", bound=Signal)


class _TurnOrder(Generic[K]):
    """Which keys have completed, and how far the turn has advanced.

    Invariant: ``head`` is the position of the first key not completed (``n``
    when all are); the turn of position ``p`` has come iff ``p <= head``.
    """

    def __init__(self, keys: Iterable[K]) -> None:
        order = list(keys)
        require_unique_keys("keys", order)
        self._position = {key: p for p, key in enumerate(order)}
        self._completed = [False] * len(order)
        self.head = 0

    def __len__(self) -> int:
        return len(self._completed)

    def position(self, key: K) -> int:
        """Return ``key``'s position, or raise ``ValueError`` naming an unknown key."""
        require_hashable("key", key)
        try:
            return self._position[key]
        except KeyError:
            raise ValueError(f"key {key!r} is not one of the turnstile's keys") from None

    def complete(self, key: K) -> range:
        """Mark ``key`` completed; return the positions whose turn has just come."""
        position = self.position(key)
        if self._completed[position]:
            return range(0)
        self._completed[position] = True
        old_head = self.head
        while self.head < len(self._completed) and self._completed[self.head]:
            self.head += 1
        return range(old_head + 1, min(self.head, len(self._completed) - 1) + 1)


class _Turnstile(Generic[K, Ev]):
    """What both turnstiles share: the keys' order, the default timeout, one event per key."""

    def __init__(self, keys: Iterable[K], timeout: float, new_event: Callable[[], Ev]) -> None:
        self._order = _TurnOrder(keys)
        self._timeout = require_seconds("timeout", timeout)
        self._turns = [new_event() for _ in range(len(self._order))]
        if self._turns:
            self._turns[0].set()

    def _turn_event(self, key: K, timeout: float | None) -> tuple[Ev, float]:
        """Check the arguments; return ``key``'s event and the timeout to apply."""
        position = self._order.position(key)
        limit = self._timeout if timeout is None else require_seconds("timeout", timeout)
        return self._turns[position], limit


class OrderedTurnstile(_Turnstile[K, threading.Event]):
    """Let callers through one at a time in the order of ``keys`` (threads).

    ``wait_turn(key)`` blocks until every key before ``key`` has completed and
    returns True, or returns False after the timeout (fail-open: the caller
    proceeds anyway). ``complete(key)`` ends a key's turn; it is idempotent and
    valid before, after or without ``wait_turn``. Prefer ``with
    turnstile.turn(key) as in_order:`` which always completes.

    Lock order: one internal lock, held only to update the bookkeeping; never
    held while waiting.

    Invariants: a key's ``wait_turn`` returns True only after every earlier key
    completed; completing keys never blocks; once every earlier key completed,
    no waiter stays blocked.
    """

    def __init__(self, keys: Iterable[K], timeout: float = 600.0) -> None:
        super().__init__(keys, timeout, thread_event)
        self._lock = threading.Lock()

    def wait_turn(self, key: K, timeout: float | None = None) -> bool:
        """Wait for ``key``'s turn; False if ``timeout`` (default: the constructor's) ran out."""
        turn, limit = self._turn_event(key, timeout)
        return turn.wait(limit)

    def complete(self, key: K) -> None:
        """End ``key``'s turn (idempotent) and pass the turn on."""
        with self._lock:
            released = self._order.complete(key)
        for position in released:
            self._turns[position].set()

    @contextlib.contextmanager
    def turn(self, key: K, timeout: float | None = None) -> Iterator[bool]:
        """Wait for ``key``'s turn, yield whether it came in order, always complete."""
        self._turn_event(key, timeout)  # bad arguments fail before the turn is taken
        try:
            yield self.wait_turn(key, timeout)
        finally:
            self.complete(key)


class AsyncOrderedTurnstile(_Turnstile[K, asyncio.Event]):
    """The asyncio twin of :class:`OrderedTurnstile` (one event loop).

    Cancelling a waiter does not complete its key: use :meth:`turn`, which
    completes on every exit path, cancellation included.
    """

    def __init__(self, keys: Iterable[K], timeout: float = 600.0) -> None:
        super().__init__(keys, timeout, task_event)

    async def wait_turn(self, key: K, timeout: float | None = None) -> bool:
        """Wait for ``key``'s turn; False if ``timeout`` (default: the constructor's) ran out."""
        turn, limit = self._turn_event(key, timeout)
        if turn.is_set():
            return True
        try:
            await asyncio.wait_for(turn.wait(), limit)
        except asyncio.TimeoutError:
            return False
        return True

    def complete(self, key: K) -> None:
        """End ``key``'s turn (idempotent) and pass the turn on."""
        for position in self._order.complete(key):
            self._turns[position].set()

    @contextlib.asynccontextmanager
    async def turn(self, key: K, timeout: float | None = None) -> AsyncIterator[bool]:
        """Wait for ``key``'s turn, yield whether it came in order, always complete."""
        self._turn_event(key, timeout)  # bad arguments fail before the turn is taken
        try:
            yield await self.wait_turn(key, timeout)
        finally:
            self.complete(key)
