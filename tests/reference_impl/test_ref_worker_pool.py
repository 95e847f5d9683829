"""WorkerPool (seed 004): held claims, scoped invalidation, explicit worker states."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable

import pytest
from ref_helpers import TIMEOUT, ManualTime, Spawned, WaitObserver

from reference_impl import WorkerPool, WorkerState

SpawnFn = Callable[..., Spawned]
_ids = itertools.count(1)


class FakeWorker:
    """A probe worker with an explicit state, as the ``Worker`` protocol asks."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.name = f"{key}#{next(_ids)}"
        self.state = WorkerState.NEW
        self.closes = 0
        self.fail_close = False

    def close(self) -> None:
        self.closes += 1
        self.state = WorkerState.CLOSED
        if self.fail_close:
            raise OSError(f"{self.name} would not die")

    def __repr__(self) -> str:
        return f"<FakeWorker {self.name}>"


class Factory:
    def __init__(self) -> None:
        self.made: list[FakeWorker] = []

    def __call__(self, key: str) -> FakeWorker:
        worker = FakeWorker(key)
        self.made.append(worker)
        return worker


def make_pool(
    per_key: int = 2, wait: float = 0.0, clock: ManualTime | None = None
) -> tuple[WorkerPool[str, FakeWorker], Factory]:
    factory = Factory()
    return WorkerPool(factory, per_key=per_key, wait=wait, clock=clock), factory


def test_seed_004_simultaneous_claims_never_share_a_worker(spawn: SpawnFn) -> None:
    pool, _ = make_pool(per_key=2, wait=0.0)
    line_up = threading.Barrier(6)

    def claim() -> FakeWorker | None:
        line_up.wait(TIMEOUT)
        return pool.claim("home")

    claimed = [t.result() for t in [spawn(claim) for _ in range(6)]]
    held = [w for w in claimed if w is not None]
    assert len(held) == 2
    assert held[0] is not held[1]


def test_claim_returns_a_held_worker_and_release_frees_it() -> None:
    pool, factory = make_pool(per_key=2)
    first, second = pool.claim("home"), pool.claim("home")
    assert first is not None and second is not None and first is not second
    assert pool.claim("home") is None  # both held: the caller falls back to a cold path
    pool.release(first)
    assert pool.claim("home") is first
    assert len(factory.made) == 2


def test_a_waiting_claim_gets_the_worker_released_meanwhile(
    spawn: SpawnFn, observe_conditions: WaitObserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threading, "Condition", observe_conditions.condition_class())
    pool, _ = make_pool(per_key=1, wait=TIMEOUT)
    monkeypatch.undo()
    held = pool.claim("home")
    assert held is not None
    waiter = spawn(pool.claim, "home")
    observe_conditions.wait_for_waiters(1)
    pool.release(held)
    assert waiter.result() is held


def test_a_claim_for_another_key_is_not_starved_by_the_wake_up(
    spawn: SpawnFn, observe_conditions: WaitObserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threading, "Condition", observe_conditions.condition_class())
    pool, _ = make_pool(per_key=1, wait=TIMEOUT)
    monkeypatch.undo()
    a, b = pool.claim("a"), pool.claim("b")
    assert a is not None and b is not None
    waiters = [spawn(pool.claim, "a"), spawn(pool.claim, "b")]
    observe_conditions.wait_for_waiters(2)
    pool.release(b)  # must reach the claimer for "b" even if "a"'s claimer wakes first
    assert waiters[1].result() is b
    pool.release(a)
    assert waiters[0].result() is a


def test_borrow_releases_on_exit_and_on_error() -> None:
    pool, _ = make_pool(per_key=1)
    with pool.borrow("home") as worker:
        assert worker is not None
        with pool.borrow("home") as other:
            assert other is None  # all busy: no worker, nothing to release
    borrowed: list[FakeWorker | None] = []

    def probe() -> None:
        with pool.borrow("home") as again:
            borrowed.append(again)
            raise RuntimeError("probe failed")

    with pytest.raises(RuntimeError):
        probe()
    assert borrowed == [worker]
    assert pool.claim("home") is worker


def test_invalidation_never_lets_a_claim_return_a_removed_worker() -> None:
    pool, _ = make_pool(per_key=1)
    old = pool.claim("home")
    assert old is not None
    pool.invalidate("home")  # credentials rotated while the worker is in use
    assert old.closes == 0  # never closed under its user
    fresh = pool.claim("home")
    assert fresh is not None and fresh is not old
    pool.release(old)
    assert old.closes == 1  # closed when given back
    assert old not in pool.workers("home")
    pool.release(fresh)
    assert pool.claim("home") is fresh


def test_invalidate_is_scoped_to_one_key() -> None:
    pool, _ = make_pool(per_key=2)
    for key in ("a", "b"):
        pool.release(pool.claim(key))  # type: ignore[arg-type]
    a_workers, b_workers = pool.workers("a"), pool.workers("b")
    pool.invalidate("a")
    assert all(w.closes == 1 for w in a_workers)
    assert pool.workers("a") == ()
    assert pool.workers("b") == b_workers
    assert all(w.closes == 0 for w in b_workers)
    pool.invalidate("never-used")
    pool.invalidate()
    assert all(w.closes == 1 for w in b_workers)
    assert pool.workers("b") == ()


def test_cleanup_reaps_closed_dead_and_idle_workers_and_keeps_new_ones(
    manual_time: ManualTime,
) -> None:
    pool, factory = make_pool(per_key=6, clock=manual_time)
    held = [w for w in (pool.claim("home") for _ in range(6)) if w is not None]
    assert len(held) == 6
    busy, new, closed, dead, idle, fresh = held
    for worker in (new, closed, dead, idle):
        pool.release(worker)  # last used at t=0
    closed.state = WorkerState.CLOSED
    dead.state = WorkerState.DEAD
    idle.state = WorkerState.RUNNING
    busy.state = WorkerState.DEAD  # busy: left alone until released
    manual_time.advance(100.0)
    fresh.state = WorkerState.RUNNING
    pool.release(fresh)  # used just now: not idle
    pool.cleanup(idle_seconds=60.0)
    remaining = pool.workers("home")
    assert {busy, new, fresh} <= set(remaining)
    assert not {closed, dead, idle} & set(remaining)
    assert (closed.closes, dead.closes, idle.closes, new.closes) == (1, 1, 1, 0)
    assert len(remaining) == 6  # replenished with never-started workers
    assert [w.state for w in factory.made[6:]] == [WorkerState.NEW] * 3


def test_a_state_may_be_reported_by_its_plain_name(manual_time: ManualTime) -> None:
    """A worker that does not import WorkerState reports "new", "running", "closed", "dead"."""
    pool, _ = make_pool(per_key=4, clock=manual_time)
    new, closed, dead, idle = (pool.claim("home") for _ in range(4))
    assert new and closed and dead and idle
    for worker, name in ((new, "new"), (closed, "closed"), (dead, "dead"), (idle, "running")):
        pool.release(worker)
        worker.state = name  # type: ignore[assignment]
    manual_time.advance(100.0)
    pool.cleanup(idle_seconds=60.0)
    assert (new.closes, closed.closes, dead.closes, idle.closes) == (0, 1, 1, 1)
    assert new in pool.workers("home")


def test_an_unknown_state_is_a_clear_error() -> None:
    pool, _ = make_pool(per_key=1)
    worker = pool.claim("home")
    assert worker is not None
    pool.release(worker)
    worker.state = None  # type: ignore[assignment]  # "no process": neither new nor closed
    with pytest.raises(
        ValueError,
        match=r"reported state None; a worker's state must be a "
        r"WorkerState or one of 'new', 'running', 'closed', 'dead'",
    ):
        pool.claim("home")


def test_claim_replaces_a_worker_that_died_or_was_closed() -> None:
    pool, _ = make_pool(per_key=1)
    worker = pool.claim("home")
    assert worker is not None
    pool.release(worker)
    worker.state = WorkerState.DEAD
    replacement = pool.claim("home")
    assert replacement is not None and replacement is not worker
    assert worker.closes == 1


def test_close_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    pool, _ = make_pool(per_key=2)
    pool.release(pool.claim("home"))  # type: ignore[arg-type]
    first, second = pool.workers("home")
    first.fail_close = True
    with caplog.at_level(logging.ERROR, logger="reference_impl.worker_pool"):
        pool.invalidate("home")
    assert second.closes == 1  # one failure skipped nobody
    assert "would not die" in caplog.text


def test_release_rejects_a_worker_that_is_not_claimed() -> None:
    pool, _ = make_pool(per_key=1)
    worker = pool.claim("home")
    assert worker is not None
    pool.release(worker)
    with pytest.raises(ValueError, match="is not claimed from this pool"):
        pool.release(worker)
    with pytest.raises(ValueError, match="is not claimed from this pool"):
        pool.release(FakeWorker("stranger"))


def test_a_factory_returning_a_pooled_worker_is_refused() -> None:
    shared = FakeWorker("shared")
    pool: WorkerPool[str, FakeWorker] = WorkerPool(lambda key: shared, per_key=2)
    with pytest.raises(ValueError, match="factory returned a worker already in the pool"):
        pool.claim("home")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"per_key": 0}, ValueError, "per_key must be >= 1, got 0"),
        ({"per_key": True}, TypeError, "per_key must be an int >= 1"),
        ({"per_key": 1.5}, TypeError, "per_key must be an int >= 1"),
        ({"wait": -0.1}, ValueError, "wait must be a finite number of seconds >= 0"),
        ({"wait": float("inf")}, ValueError, "wait must be a finite number"),
        ({"clock": 0}, TypeError, "clock must be callable"),
    ],
)
def test_pool_rejects_bad_constructor_arguments(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        WorkerPool(Factory(), **kwargs)  # type: ignore[arg-type]


def test_pool_rejects_bad_call_arguments() -> None:
    with pytest.raises(TypeError, match="factory must be callable"):
        WorkerPool("spawn")  # type: ignore[arg-type]
    pool, _ = make_pool()
    with pytest.raises(TypeError, match="key must be hashable"):
        pool.claim(["home"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be hashable"):
        pool.invalidate({})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idle_seconds must be a number of seconds >= 0"):
        pool.cleanup(-1)
