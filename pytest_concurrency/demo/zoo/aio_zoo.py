"""The asyncio exhibits of the bug zoo, and what exploring each one needs.

Each module has ``buggy`` and ``fixed`` coroutine-function scenarios; the
explorer runs them on a controlled event loop where every task step is a
scheduling point.
"""

from __future__ import annotations

from typing import Any

from pytest_concurrency.demo.zoo import ZooBug

AIO_ZOO = (
    ZooBug("stale read installed over a newer save", "aio_stale_read", "a per-key config store"),
    ZooBug("older save overwrites a newer one", "aio_older_save", "a per-key config store"),
    ZooBug("clear drops a held per-key lock", "aio_dropped_lock", "a per-key config store"),
    ZooBug("semaphore waiter cancelled after its wake-up", "aio_semaphore", "CPython asyncio"),
)

#: explore() options an exhibit needs, by module
OPTIONS: dict[str, dict[str, Any]] = {"aio_semaphore": {"inject_cancel": 1}}

#: the exhibits whose bug shows up as a deadlock (a task awaiting forever)
DEADLOCKS = frozenset({"aio_semaphore"})


def options(bug: ZooBug) -> dict[str, Any]:
    """The explore() options ``bug`` needs (a copy: callers add their own)."""
    return dict(OPTIONS.get(bug.module, {}))
