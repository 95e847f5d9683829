"""``WorkerPoolContract``: warm workers per key, each held by one caller at a time.

A probe-worker pool kept two warm workers per home and picked a worker by
acquiring and releasing its lock, so two callers could pick the same one;
invalidation popped workers between a caller's lookup and its claim; and
"closed" and "never started" were both ``proc is None``, so cleanup either
reaped fresh replacements or kept closed workers.

The contract supplies the workers: ``factory(key)`` returns a
:class:`ContractWorker` that reports a ``state`` and counts its ``close()``
calls. All a pool may ask a worker is whether it was started, closed, or died
on its own, and ``state`` answers with one of four names: ``"new"`` (never
started), ``"running"``, ``"closed"`` (``close()`` was called) and ``"dead"``
(stopped on its own). ``reference_impl.WorkerPool`` reads exactly those (its
``WorkerState`` values), so its contract needs nothing but ``make_subject``; a
pool that compares states with values of its own sets ``worker_states``, a
mapping from the four names to them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, ClassVar, Protocol

from pytest_concurrency.contracts._base import Contract, SubjectError, abstract_subject
from pytest_concurrency.contracts._support import start
from pytest_concurrency.world.api import checkpoint

__all__ = ["ContractWorker", "WorkerPoolContract"]

STATES = ("new", "running", "closed", "dead")


class ContractWorker:
    """A worker made by the contract's factory: a state, a close count, whether it is held."""

    def __init__(self, key: Hashable, serial: int, states: Mapping[str, object]) -> None:
        self.key = key
        self.serial = serial
        self._states = states
        self.phase = "new"
        self.closes = 0
        #: set by the contract from claim() returning it until the caller calls release()
        self.held = False
        self.closed_while_held = False

    @property
    def state(self) -> object:
        """The pool-facing state: ``"closed"`` once ``close()`` was called, else ``"new"``,
        ``"running"`` or ``"dead"`` (or the values ``worker_states`` maps them to)."""
        return self._states["closed" if self.closes else self.phase]

    def close(self) -> None:
        self.closes += 1
        if self.held:
            self.closed_while_held = True

    def use(self) -> None:
        """What a caller does with a claimed worker: start it (a process spawns)."""
        if self.phase == "new":
            self.phase = "running"

    def crash(self) -> None:
        """The worker's process died on its own."""
        self.phase = "dead"

    def __repr__(self) -> str:
        closed = f", closed {self.closes}x" if self.closes else ""
        return f"<worker {self.key}#{self.serial} {self.phase}{closed}>"


class _Factory:
    """The ``factory`` given to the pool: numbers and remembers every worker it makes."""

    def __init__(self, states: Mapping[str, object]) -> None:
        self._states = states
        self.made: list[ContractWorker] = []

    def __call__(self, key: Hashable) -> ContractWorker:
        worker = ContractWorker(key, len(self.made) + 1, self._states)
        self.made.append(worker)
        return worker

    def live(self, key: Hashable) -> list[ContractWorker]:
        return [w for w in self.made if w.key == key and not w.closes and w.phase != "dead"]


class WorkerPoolLike(Protocol):
    """What ``WorkerPoolContract.make_subject`` returns."""

    def claim(self, key: Hashable) -> Any: ...

    def release(self, worker: Any) -> None: ...

    def invalidate(self, key: Hashable | None = None) -> None: ...

    def cleanup(self, idle_seconds: float) -> None: ...


class WorkerPoolContract(Contract):
    """Properties of a keyed worker pool: ``claim``, ``release``, ``invalidate``, ``cleanup``.

    Override ``make_subject(self, factory, per_key)`` to return a new pool
    keeping ``per_key`` workers per key made by ``factory(key)``; ``claim(key)``
    returns a worker held for the caller (or None when all stay busy) and
    ``release(worker)`` gives it back. Budgets: ``per_key`` (default 2) and
    ``claimers`` (threads claiming one key at once, default 2).
    """

    __test__ = False
    subject_signature = "make_subject(self, factory, per_key)"
    subject_description = (
        "a new pool with claim(key), release(worker), invalidate(key=None) and "
        "cleanup(idle_seconds) whose workers come from factory(key)"
    )
    subject_methods = ("claim", "release", "invalidate", "cleanup")

    per_key: ClassVar[int] = 2
    claimers: ClassVar[int] = 2
    #: the values ``ContractWorker.state`` reports, by name; None: the names themselves
    #: (what ``reference_impl.WorkerPool`` reads)
    worker_states: ClassVar[Mapping[str, object] | None] = None

    @abstract_subject
    def make_subject(self, factory: Callable[[Any], Any], per_key: int) -> Any:
        raise NotImplementedError(self._override_message())

    def _pool(self, per_key: int | None = None) -> tuple[WorkerPoolLike, _Factory]:
        states = self.worker_states or {name: name for name in STATES}
        missing = [name for name in STATES if name not in states]
        if missing:
            raise SubjectError(
                f"{type(self).__name__}.worker_states must map {', '.join(STATES)}; "
                f"missing {missing}"
            )
        factory = _Factory(states)
        pool: WorkerPoolLike = self.subject(factory, per_key or self.per_key)
        return pool, factory

    @staticmethod
    def _claim(pool: WorkerPoolLike, key: str) -> ContractWorker | None:
        """Claim; check the worker is usable and not held by anyone else; mark it held."""
        worker: ContractWorker | None = pool.claim(key)
        if worker is None:
            return None
        assert not worker.held, f"claim({key!r}) returned {worker}, which another caller holds"
        usable = not worker.closes and worker.phase != "dead"
        assert usable, (
            f"claim({key!r}) returned {worker}: a closed or dead worker (one that was removed "
            "from the pool, or should have been)"
        )
        assert worker.key == key, f"claim({key!r}) returned {worker}, a worker of another key"
        worker.held = True
        return worker

    @staticmethod
    def _release(pool: WorkerPoolLike, worker: ContractWorker) -> None:
        worker.held = False  # given back: the pool may close it from here on
        pool.release(worker)

    def test_no_worker_is_claimed_twice(self) -> None:
        """A worker is held by at most one caller, and a key never has more than per_key."""

        def scenario() -> None:
            pool, factory = self._pool()

            def use_one() -> None:
                worker = self._claim(pool, "home")
                if worker is None:
                    return  # every worker stayed busy: the caller falls back
                worker.use()
                checkpoint("using the worker")
                live = factory.live("home")
                assert len(live) <= self.per_key, (
                    f"{len(live)} workers of one key are alive (made and not closed): {live}; "
                    f"the pool may keep at most per_key={self.per_key}"
                )
                self._release(pool, worker)

            others = [start(f"claimer-{n}", use_one) for n in range(2, self.claimers + 1)]
            use_one()
            errors = [o for o in (h.result() for h in others) if isinstance(o, Exception)]
            if errors:
                raise errors[0]

        self.explore(scenario, bounded=True)  # too many classes for the reduction today

    def test_a_claim_never_returns_a_removed_worker(self) -> None:
        """A claim racing invalidate() never gets a removed worker; removed ones are closed once,
        never under their user."""

        def scenario() -> None:
            pool, factory = self._pool()
            warm = [self._claim(pool, "home") for _ in range(self.per_key)]
            for worker in warm:
                assert worker is not None, "claim() returned None from a pool with idle room"
                self._release(pool, worker)
            before = list(factory.made)

            def claim_use_release() -> None:
                worker = self._claim(pool, "home")
                if worker is not None:
                    checkpoint("using the worker")
                    self._release(pool, worker)

            racer = start("claimer", claim_use_release)
            pool.invalidate("home")
            fresh = self._claim(pool, "home")
            assert fresh not in before, (
                f"claim() after invalidate() returned {fresh}, a worker from before it"
            )
            if fresh is not None:
                self._release(pool, fresh)
            outcome = racer.result()
            if isinstance(outcome, Exception):
                raise outcome
            abused = [w for w in factory.made if w.closed_while_held]
            assert not abused, f"{abused} were closed while a caller held them"
            unclosed = [w for w in before if w.closes != 1]
            assert not unclosed, (
                f"after invalidate() and every release, {unclosed} were not closed exactly once"
            )

        self.explore(scenario, bounded=True)  # too many classes for the reduction today

    def test_closed_workers_are_reaped_and_unstarted_ones_kept(self) -> None:
        """cleanup() reaps closed and dead workers and keeps never-started ones."""

        def scenario() -> None:
            pool, _ = self._pool(per_key=3)
            closed, dead, unstarted = (self._claim(pool, "home") for _ in range(3))
            if closed is None or dead is None or unstarted is None:
                raise AssertionError("claim() returned None from a pool with room")
            for worker in (closed, dead):
                worker.use()
            for worker in (closed, dead, unstarted):
                self._release(pool, worker)
            closed.close()  # shut down (say, by its own idle timer)
            dead.crash()
            pool.cleanup(3600.0)
            assert not unstarted.closes, (
                f"cleanup() closed {unstarted}, which was never started: 'not started' must "
                "not be mistaken for 'closed'"
            )
            claimed = [self._claim(pool, "home") for _ in range(3)]
            kept = unstarted in claimed and closed not in claimed and dead not in claimed
            assert kept, (
                f"after cleanup(), three claims returned {claimed}; the unstarted worker must "
                f"be kept and {closed} and {dead} reaped"
            )
            for held in claimed:
                if held is not None:
                    self._release(pool, held)

        self.explore(scenario)

    def test_idle_running_workers_are_reaped(self) -> None:
        """cleanup(idle_seconds) reaps running workers idle that long and keeps recent ones."""

        def scenario() -> None:
            pool, _ = self._pool()
            idle, recent = self._claim(pool, "home"), self._claim(pool, "home")
            if idle is None or recent is None:
                raise AssertionError("claim() returned None from a pool with room")
            idle.use()
            recent.use()
            self._release(pool, idle)
            time.sleep(100.0)  # virtual
            self._release(pool, recent)
            pool.cleanup(50.0)
            assert (idle.closes, recent.closes) == (1, 0), (
                f"after cleanup(50), {idle} (idle 100 s) must be closed once and {recent} "
                "(idle 0 s) kept"
            )

        self.explore(scenario)

    def test_invalidating_one_key_leaves_the_others_alone(self) -> None:
        """invalidate(key) closes that key's workers only."""

        def scenario() -> None:
            pool, factory = self._pool()
            mine, theirs = self._claim(pool, "home-a"), self._claim(pool, "home-b")
            if mine is None or theirs is None:
                raise AssertionError("claim() returned None from a pool with room")
            self._release(pool, mine)
            self._release(pool, theirs)
            others_before = factory.live("home-b")
            pool.invalidate("home-a")
            touched = [w for w in others_before if w.closes]
            assert not touched, f"invalidate('home-a') closed {touched} of home-b"
            again = self._claim(pool, "home-b")
            assert again in others_before, (
                f"claim('home-b') after invalidate('home-a') returned {again}, not one of "
                f"home-b's warm workers {others_before}"
            )
            self._release(pool, again)
            fresh = self._claim(pool, "home-a")
            if fresh is None or fresh is mine:
                raise AssertionError(f"claim('home-a') after invalidate('home-a') returned {fresh}")
            self._release(pool, fresh)

        self.explore(scenario)
