"""Install tickets: a slow load may publish its result only if nothing invalidated it.

The config store's stale read (see :mod:`reference_impl.keyed_store`), in
general form: a reader misses the cache, starts a slow load, an invalidation (a
``clear``, a hot reload) happens meanwhile, and the reader then installs what
it loaded *before* the invalidation -- so the cache holds stale data after the
invalidation returned. The fix used by ``BuildOnceCache`` and ``KeyedStore``:
the loader takes a ticket before it loads, invalidation revokes the key's
ticket, and the loader installs its result only if its own ticket is still the
current one (:meth:`InstallTickets.redeem`).

Tickets exist only while a load is in flight, so the map never grows beyond the
number of concurrent loads. The class does no locking of its own: callers hold
their own lock (threads) or run on one event loop (asyncio).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class InstallTickets(Generic[K]):
    """One current ticket per key with a load in flight.

    Invariant: ``_current[key]`` is the ticket of the newest load of ``key`` not
    yet redeemed or revoked; a ticket that is not current can never be redeemed.
    """

    def __init__(self) -> None:
        self._current: dict[K, object] = {}

    def __len__(self) -> int:
        return len(self._current)

    def issue(self, key: K) -> object:
        """Start a load of ``key``: return a fresh ticket that supersedes any older one."""
        ticket = object()
        self._current[key] = ticket
        return ticket

    def redeem(self, key: K, ticket: object) -> bool:
        """End a load: True (and forget the ticket) if ``ticket`` is still current."""
        if self._current.get(key) is ticket:
            del self._current[key]
            return True
        return False

    def revoke(self, key: K) -> None:
        """Invalidate ``key``: the load in flight, if any, must not install its result."""
        self._current.pop(key, None)

    def revoke_all(self) -> None:
        """Invalidate every key."""
        self._current.clear()
