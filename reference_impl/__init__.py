"""Reference implementations of concurrency guards from real bug fixes.

Each module fixes one race found in a real project, and the follow-up bugs the
fix's review found; its docstring tells the story and each class documents its
lock order and invariants. ``pytest_concurrency.contracts`` proves them;
downstream projects may use them as drop-ins.

- ``single_flight`` (a vocabulary cache's stampede of cold builds):
  ``SingleFlight``, ``AsyncSingleFlight``, ``BuildOnceCache``, ``FileCache``;
- ``keyed_store`` (a config store's per-key locks, dropped while held):
  ``KeyedStore`` over an async ``Backend``;
- ``turnstile`` (parallel sync of backlog chunks that split one conversation):
  ``OrderedTurnstile``, ``AsyncOrderedTurnstile``;
- ``deferred`` (deferred deletes that each parked a pool thread):
  ``DeferredDeleter``;
- ``run_guard`` (duplicate generation runs): ``RunGuard``, ``RunRejected``,
  ``ActiveRun``, ``fingerprint``;
- ``worker_pool`` (a per-home pool of warm probe workers): ``WorkerPool``, the
  ``Worker`` protocol, ``WorkerState``.

Rules every guard follows, so that fake clocks and the interleaving explorer
reach it:

- standard library only (never ``pytest_concurrency``);
- time is read at call time, through an injected ``clock`` or
  ``time.monotonic`` looked up on each call -- never wall time, never
  ``from time import monotonic``;
- locks, conditions, events and threads are created through ``threading.*``
  looked up when the guard is built or used, never at import;
- bad arguments raise ``TypeError``/``ValueError`` naming the argument.
"""

from .deferred import DeferredDeleter
from .keyed_store import Backend, KeyedStore
from .run_guard import ActiveRun, RunGuard, RunRejected, fingerprint
from .single_flight import AsyncSingleFlight, BuildOnceCache, FileCache, SingleFlight
from .turnstile import AsyncOrderedTurnstile, OrderedTurnstile
from .worker_pool import Worker, WorkerPool, WorkerState

__all__ = [
    "ActiveRun",
    "AsyncOrderedTurnstile",
    "AsyncSingleFlight",
    "Backend",
    "BuildOnceCache",
    "DeferredDeleter",
    "FileCache",
    "KeyedStore",
    "OrderedTurnstile",
    "RunGuard",
    "RunRejected",
    "SingleFlight",
    "Worker",
    "WorkerPool",
    "WorkerState",
    "fingerprint",
]
