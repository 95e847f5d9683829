"""``BuildOnceCacheContract``: each key is loaded once and kept; keys load in parallel.

The original bug: a vocabulary cache whose cold build re-encoded the whole
vocabulary once per concurrent caller (a cache stampede). Its fix (a per-key
lock and a re-check of the cache inside it) still retried a failed build once
per queued waiter and kept one lock per key forever. These properties pin the
complete behaviour: one load per key however the callers interleave, a failed
load shared by the callers that overlapped it and not cached, keys loading in
parallel, an invalidation that wins over a load in flight, and a registry that
shrinks back.

Every access the loaders make to the scenario's objects (the list of loads,
the source dict) is a scheduling point of the explorer's memory granularity,
so another thread may run between a loader's read of its source and the
cache's install of the value even when the subject holds no lock there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, Protocol

import pytest

from pytest_concurrency.contracts._base import Contract, abstract_subject
from pytest_concurrency.contracts._support import ContractError, outcome_of, start
from pytest_concurrency.contracts.single_flight import registry_size_of

__all__ = ["BuildOnceCacheContract"]


class BuildOnceCacheLike(Protocol):
    """What ``BuildOnceCacheContract.make_subject`` returns."""

    def get(self, key: Hashable) -> Any: ...

    def invalidate(self, key: Hashable) -> None: ...


class BuildOnceCacheContract(Contract):
    """Properties of a build-once cache: ``get(key)`` loads each key once.

    Override ``make_subject(self, loader)`` to return a new instance of your
    cache calling ``loader(key)`` on a miss. Budgets: ``callers`` (cold
    callers of one key, default 2) and the
    :class:`~pytest_concurrency.contracts.Contract` budgets. The registry
    property reads ``lock_count`` or ``in_flight``; override
    :meth:`registry_size` otherwise (None skips it).
    """

    __test__ = False
    subject_signature = "make_subject(self, loader)"
    subject_description = "a new cache with get(key) and invalidate(key) that calls loader(key)"
    subject_methods = ("get", "invalidate")

    #: cold callers of one key
    callers: ClassVar[int] = 2

    @abstract_subject
    def make_subject(self, loader: Callable[[Any], Any]) -> Any:
        raise NotImplementedError(self._override_message())

    def registry_size(self, subject: Any) -> int | None:
        """How many per-key entries (locks, loads in flight) the cache holds; None: unknown."""
        return registry_size_of(subject)

    def _cold_callers(self, cache: BuildOnceCacheLike, key: str) -> list[object]:
        """``get(key)`` from ``callers`` threads at once; their outcomes, in start order."""
        others = [start(f"caller-{n}", lambda: cache.get(key)) for n in range(2, self.callers + 1)]
        mine = outcome_of(lambda: cache.get(key))
        return [mine] + [handle.result() for handle in others]

    def test_loader_runs_once_per_key(self) -> None:
        """However cold callers interleave, a key is loaded once and then served."""

        def scenario() -> None:
            loads: list[str] = []

            def loader(key: str) -> str:
                loads.append(key)
                return f"value of {key}"

            cache: BuildOnceCacheLike = self.subject(loader)
            outcomes = self._cold_callers(cache, "key")
            outcomes.append(outcome_of(lambda: cache.get("key")))  # a warm caller
            assert len(loads) == 1, (
                f"the loader ran {len(loads)} times for one key: a caller that missed the cache "
                "loaded again instead of using the value being (or just) loaded"
            )
            assert outcomes == ["value of key"] * len(outcomes), f"callers got {outcomes!r}"

        self.explore(scenario)

    def test_overlapping_callers_share_the_loaders_error(self) -> None:
        """Callers overlapping a failing load get its error; the failure is not cached."""

        def scenario() -> None:
            loads: list[str] = []

            def loader(key: str) -> str:
                loads.append(key)
                time.sleep(1.0)  # virtual time: the other callers arrive meanwhile
                if len(loads) == 1:
                    raise ContractError(f"loading {key} failed")
                return f"value of {key}"

            cache: BuildOnceCacheLike = self.subject(loader)
            outcomes = self._cold_callers(cache, "key")
            got = [f"{type(o).__name__}: {o}" for o in outcomes]
            assert (len(loads), got) == (1, ["ContractError: loading key failed"] * len(got)), (
                f"the loader ran {len(loads)} times and the overlapping callers got {got}: "
                "callers queued behind a failing load must get its error, not load again"
            )
            retried = outcome_of(lambda: cache.get("key"))
            assert retried == "value of key", (
                f"a get() after the failed load returned {retried!r}: a failure must not be cached"
            )

        self.explore(scenario)

    def test_different_keys_load_in_parallel(self) -> None:
        """A load of one key never waits for the load of another key."""

        def scenario() -> None:
            started = {"a": threading.Event(), "b": threading.Event()}

            def loader(key: str) -> bool:
                started[key].set()
                return started["b" if key == "a" else "a"].wait(timeout=60.0)  # virtual

            cache: BuildOnceCacheLike = self.subject(loader)
            other = start("caller-b", lambda: cache.get("b"))
            mine = cache.get("a")
            assert (mine, other.result()) == (True, True), (
                "the loads of keys 'a' and 'b' did not run at the same time: one waited 60 s for "
                "the other to start; per-key locking must let different keys load in parallel"
            )

        self.explore(scenario, bounded=True)  # too many classes for the reduction today

    def test_invalidate_wins_over_a_load_in_flight(self) -> None:
        """After invalidate(key) returns, get(key) never serves a value loaded before it."""

        def scenario() -> None:
            source = {"key": "old"}

            def loader(key: str) -> str:
                return source[key]

            cache: BuildOnceCacheLike = self.subject(loader)
            reader = start("reader", lambda: cache.get("key"))
            source["key"] = "new"
            cache.invalidate("key")
            reader.result()
            after = cache.get("key")
            assert after == "new", (
                f"get() after invalidate() returned {after!r}: a load that read the source "
                "before the invalidation installed its stale value afterwards"
            )

        self.explore(scenario)

    def test_registry_returns_to_baseline(self) -> None:
        """Once no load runs, the per-key registry is back to its size before."""

        def scenario() -> None:
            def loader(key: str) -> str:
                if key == "failing":
                    raise ContractError("loading failed")
                return f"value of {key}"

            cache: BuildOnceCacheLike = self.subject(loader)
            baseline = self.registry_size(cache)
            if baseline is None:
                pytest.skip(
                    f"{type(cache).__name__} has no lock_count or in_flight; override "
                    "registry_size() to check its registry"
                )
            self._cold_callers(cache, "key")
            outcome_of(lambda: cache.get("failing"))
            cache.invalidate("key")
            size = self.registry_size(cache)
            assert size == baseline, (
                f"the registry holds {size} entries once every load ended (it held {baseline} "
                "before): per-key locks are never removed, so it grows with every key"
            )

        self.explore(scenario)
