"""``KeyedStoreContract``: per-key serialised, cached access to an async backend.

A config store kept one ``asyncio.Lock`` per corpus and made
``clear_cache(key)`` drop the key's lock so ephemeral corpora would not leak
locks. Dropping a lock somebody holds -- or one just released whose woken
waiter has not resumed yet -- lets two tasks in at once, and then an older save
or a stale read overwrites a newer save.

The scenarios are coroutine functions explored on the explorer's controlled
event loop: every ready task step is a scheduling choice. The contract's
backend yields (``await asyncio.sleep(0)``) inside ``load`` and ``store``, so
the explorer can interleave other tasks exactly where a real backend awaits
its database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping
from copy import deepcopy
from typing import Any, Protocol

import pytest

from pytest_concurrency.contracts._base import Contract, abstract_subject
from pytest_concurrency.contracts._support import Overlap
from pytest_concurrency.contracts.single_flight import registry_size_of

__all__ = ["ContractBackend", "KeyedStoreContract"]


class ContractBackend:
    """The backend the contract hands to ``make_subject``: rows, and who was inside ``store``."""

    def __init__(self, rows: Mapping[Any, Any] | None = None) -> None:
        self.rows: dict[Hashable, Any] = dict(rows or {})
        self.default: Any = {"version": "default"}
        self.stores = Overlap()

    async def load(self, key: Hashable) -> Any:
        value = deepcopy(self.rows.get(key, self.default))  # read when the query starts
        await asyncio.sleep(0)  # the query is in flight
        return value

    async def store(self, key: Hashable, value: Any) -> None:
        with self.stores.region(key):
            await asyncio.sleep(0)  # the write is in flight
            self.rows[key] = deepcopy(value)


class KeyedStoreLike(Protocol):
    """What ``KeyedStoreContract.make_subject`` returns."""

    async def get(self, key: Hashable) -> Any: ...

    async def save(self, key: Hashable, value: Any) -> None: ...

    def clear(self, key: Hashable | None = None) -> None: ...


def version(name: str) -> dict[str, str]:
    """A config value: a dict, so that copies and identity can be told apart."""
    return {"version": name}


class KeyedStoreContract(Contract):
    """Properties of a keyed store: async ``get``/``save``, sync ``clear``.

    Override ``make_subject(self, backend)`` to return a new store over
    ``backend`` (async ``load(key)`` and ``store(key, value)``). The lock-map
    property reads ``lock_count``; override :meth:`lock_count` if yours is named
    otherwise (None skips it).
    """

    __test__ = False
    subject_signature = "make_subject(self, backend)"
    subject_description = (
        "a new store over backend with async get(key), async save(key, value) and clear(key=None)"
    )
    subject_methods = ("get", "save", "clear")

    @abstract_subject
    def make_subject(self, backend: Any) -> Any:
        raise NotImplementedError(self._override_message())

    def lock_count(self, subject: Any) -> int | None:
        """How many per-key locks the store holds; None: unknown."""
        return registry_size_of(subject)

    def _store(self, **rows: Any) -> tuple[KeyedStoreLike, ContractBackend]:
        backend = ContractBackend(rows)
        store: KeyedStoreLike = self.subject(backend)
        return store, backend

    def test_the_newest_save_wins(self) -> None:
        """Of overlapping saves of one key, the last to start is what the cache and backend keep."""

        async def scenario() -> None:
            store, backend = self._store()
            began: list[str] = []

            async def save(name: str) -> None:
                began.append(name)
                await store.save("docs", version(name))

            await asyncio.gather(save("first"), save("second"))
            newest = began[-1]
            cached = await store.get("docs")
            assert (backend.rows["docs"], cached) == (version(newest), version(newest)), (
                f"saves began in the order {began}; the backend holds {backend.rows['docs']} and "
                f"get() returns {cached}: the newest save ({newest!r}) must win in both"
            )

        self.explore(scenario)

    def test_get_never_installs_stale_data_over_a_save(self) -> None:
        """A get that loaded before an overlapping save never overwrites the saved value."""

        async def scenario() -> None:
            store, backend = self._store(docs=version("old"))
            await asyncio.gather(store.get("docs"), store.save("docs", version("new")))
            cached = await store.get("docs")
            assert (cached, backend.rows["docs"]) == (version("new"), version("new")), (
                f"after a get and a save('new') overlapped, get() returns {cached} and the "
                f"backend holds {backend.rows['docs']}: a load from before the save was "
                "installed over it"
            )

        self.explore(scenario)

    def test_get_never_installs_data_a_clear_declared_stale(self) -> None:
        """A load in flight across clear(key) does not install what it read before."""

        async def scenario() -> None:
            store, backend = self._store(docs=version("old"))

            async def hot_reload() -> None:
                backend.rows["docs"] = version("new")  # edited behind the store's back
                store.clear("docs")

            await asyncio.gather(store.get("docs"), hot_reload())
            cached = await store.get("docs")
            assert cached == version("new"), (
                f"get() after clear('docs') returned {cached}: a load that read the backend "
                "before the clear installed its stale value afterwards"
            )

        self.explore(scenario)

    def test_clear_never_lets_two_holders_in(self) -> None:
        """clear(key) during saves never lets two tasks into one key's critical section."""

        async def scenario() -> None:
            store, backend = self._store()

            async def clear_then_save() -> None:
                store.clear("docs")  # while a save holds the lock, or has just released it
                await store.save("docs", version("third"))

            await asyncio.gather(
                store.save("docs", version("first")),
                store.save("docs", version("second")),
                clear_then_save(),
            )
            most = backend.stores.most["docs"]
            assert most == 1, (
                f"{most} saves of one key were inside backend.store() at once (a clear() came "
                "in between): a lock that a task held, or was about to resume holding, was "
                "dropped or never taken"
            )

        self.explore(scenario)

    def test_lock_map_returns_to_baseline(self) -> None:
        """Once no task uses a key (and it was cleared), it holds no lock."""

        async def scenario() -> None:
            store, _ = self._store()
            baseline = self.lock_count(store)
            if baseline is None:
                pytest.skip(
                    f"{type(store).__name__} has no lock_count; override lock_count() to check "
                    "its lock map"
                )

            for key in ("corpus-1", "corpus-2"):  # ephemeral corpora
                await asyncio.gather(store.get(key), store.save(key, version(key)))
                store.clear(key)
            count = self.lock_count(store)
            assert count == baseline, (
                f"the store holds {count} locks after every task ended and each key was cleared "
                f"(it held {baseline} before): per-key locks of ephemeral keys leak"
            )

        self.explore(scenario)

    def test_get_and_save_use_copies(self) -> None:
        """get returns and save stores copies: callers mutating their objects change nothing."""

        async def scenario() -> None:
            store, backend = self._store()
            saved = version("saved")
            await store.save("docs", saved)
            saved["version"] = "mutated after save"
            got = await store.get("docs")
            got["version"] = "mutated after get"
            again = await store.get("docs")
            assert (again, backend.rows["docs"]) == (version("saved"), version("saved")), (
                f"get() returns {again} and the backend holds {backend.rows['docs']} after the "
                "caller mutated the dicts it saved and got; the store must keep its own copies"
            )

        self.explore(scenario)
