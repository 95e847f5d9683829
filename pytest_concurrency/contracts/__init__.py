"""Contract suites: the properties of common concurrency guards, as test classes to subclass.

One base test class per guard. Subclass it, override ``make_subject`` to
return your implementation, and every property the class defines runs as a
test -- proven at small sizes by the interleaving explorer's reduction (every
class of interleavings of the shared-memory and synchronisation accesses, no
preemption bound), on virtual time where time matters, under a thread leak
check::

    from pytest_concurrency.contracts import BuildOnceCacheContract

    class TestVocabCache(BuildOnceCacheContract):
        def make_subject(self, loader):
            return VocabCache(loader)

- :class:`SingleFlightContract` (concurrent callers of one key share one call, the
  cure for a cache stampede): ``make_subject(self)``;
- :class:`BuildOnceCacheContract` (an in-memory cache each key of which is built
  once): ``make_subject(self, loader)``;
- :class:`FileCacheContract` (the same on disk, across processes):
  ``make_subject(self, directory, build)``;
- :class:`KeyedStoreContract` (an async store with one lock per key):
  ``make_subject(self, backend)``;
- :class:`OrderedTurnstileContract` (parallel work whose one step runs in key
  order): ``make_subject(self, keys, timeout)``;
- :class:`DeferredDeleterContract` (deletes due later, done by one janitor
  thread): ``make_subject(self, delete)``;
- :class:`RunGuardContract` (one run at a time, duplicate submissions rejected):
  ``make_subject(self, dedup_window, max_run_seconds)``;
- :class:`WorkerPoolContract` (warm workers per key, each held by one caller):
  ``make_subject(self, factory, per_key)``;
- :class:`LinearizabilityContract`: ``make_subject(self)``, operations marked with
  :func:`operation`, optionally ``make_model(self)``.

:func:`run_contract` runs the same property methods outside pytest and returns
a :class:`ContractReport`. This package depends on pytest and the rest of
``pytest_concurrency`` only (never on ``reference_impl``).
"""

from __future__ import annotations

from pytest_concurrency.contracts._base import (
    Contract,
    Exploration,
    ExplorationBudgetError,
    SubjectError,
)
from pytest_concurrency.contracts.build_once import BuildOnceCacheContract
from pytest_concurrency.contracts.deferred import DeferredDeleterContract, JanitorKilled
from pytest_concurrency.contracts.file_cache import FileCacheContract
from pytest_concurrency.contracts.keyed_store import ContractBackend, KeyedStoreContract
from pytest_concurrency.contracts.linearizability import LinearizabilityContract, operation
from pytest_concurrency.contracts.run_guard import RunGuardContract
from pytest_concurrency.contracts.runner import ContractReport, PropertyResult, run_contract
from pytest_concurrency.contracts.single_flight import SingleFlightContract
from pytest_concurrency.contracts.turnstile import OrderedTurnstileContract
from pytest_concurrency.contracts.worker_pool import ContractWorker, WorkerPoolContract

__all__ = [
    "BuildOnceCacheContract",
    "Contract",
    "ContractBackend",
    "ContractReport",
    "ContractWorker",
    "DeferredDeleterContract",
    "Exploration",
    "ExplorationBudgetError",
    "FileCacheContract",
    "JanitorKilled",
    "KeyedStoreContract",
    "LinearizabilityContract",
    "OrderedTurnstileContract",
    "PropertyResult",
    "RunGuardContract",
    "SingleFlightContract",
    "SubjectError",
    "WorkerPoolContract",
    "operation",
    "run_contract",
]
