"""Bench section: the reference guards under load, next to a naive baseline in the same run.

Each guard is driven by 64 real threads (``KeyedStore``, an asyncio guard, by
64 tasks on one loop) making 10,000 calls in total, and its invariants are
checked after every repeat: no duplicate build, no lost or duplicated
deletion, no double claim, at most one accepted run, key order kept, lock maps
back to their baseline. A violated invariant is reported in the row
(``NOT met``, with what went wrong) and never hidden.

Throughput is calls per second of wall time from the moment every thread is
released at once to the moment the last one finished, median over the
repeats. The baseline does the naive thing in the same threads in the same
run: a plain dict lookup for a cache hit, a direct call for a single flight, a
bare lock for a claim or a run slot, ``heapq.heappush`` under a lock for a
deferred delete, a ``Condition`` with ``notify_all`` for a turnstile.
"""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, median_of
from reference_impl import (
    BuildOnceCache,
    DeferredDeleter,
    KeyedStore,
    OrderedTurnstile,
    RunGuard,
    RunRejected,
    SingleFlight,
    WorkerPool,
    WorkerState,
)

TITLE = "Guards under load"

THREADS = 64
CALLS = 10_000
#: real seconds any one load may take before it counts as hung
DEADLINE = 60.0
#: keys the keyed guards spread their calls over
KEYS = 16
PER_KEY = 2
JANITOR = "load-bench-janitor"


@dataclass
class Sample:
    """One repeat of one load: both rates and every invariant that did not hold."""

    rate: float
    baseline: float
    problems: list[str] = field(default_factory=list)
    note: str = ""


def hammer(threads: int, calls: int, work: Callable[[int, int], object]) -> float:
    """Run ``work(thread, i)`` ``calls`` times over ``threads`` threads started at once.

    Returns calls per second. Raises ``TimeoutError`` if a thread is still
    running after :data:`DEADLINE` seconds; the first exception from ``work``
    is re-raised.
    """
    per_thread = [calls // threads + (t < calls % threads) for t in range(threads)]
    gate = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def body(t: int) -> None:
        gate.wait(DEADLINE)
        try:
            for i in range(per_thread[t]):
                work(t, i)
        except BaseException as error:
            errors.append(error)

    workers = [
        threading.Thread(target=body, args=(t,), name=f"load-{t}", daemon=True)
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    gate.wait(DEADLINE)
    started = _realtime.perf_counter()
    for worker in workers:
        worker.join(max(0.0, started + DEADLINE - _realtime.perf_counter()))
    elapsed = _realtime.perf_counter() - started
    if any(worker.is_alive() for worker in workers):
        raise TimeoutError(f"a load thread was still running after {DEADLINE} s")
    if errors:
        raise errors[0]
    return calls / elapsed


class Tally:
    """Counts under a real lock, and the most callers ever inside a region per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[Hashable] = Counter()
        self.inside: Counter[Hashable] = Counter()
        self.most: Counter[Hashable] = Counter()

    def add(self, key: Hashable) -> None:
        with self._lock:
            self.counts[key] += 1

    def enter(self, key: Hashable) -> None:
        with self._lock:
            self.inside[key] += 1
            self.most[key] = max(self.most[key], self.inside[key])

    def leave(self, key: Hashable) -> None:
        with self._lock:
            self.inside[key] -= 1


def _key(t: int, i: int) -> str:
    return f"key-{(t * 7 + i) % KEYS}"


def build_once_cache(threads: int, calls: int) -> Sample:
    builds = Tally()

    def loader(key: str) -> str:
        builds.add(key)
        return f"value of {key}"

    cache: BuildOnceCache[str, str] = BuildOnceCache(loader)
    rate = hammer(threads, calls, lambda t, i: cache.get(_key(t, i)))
    plain = {f"key-{k}": f"value of key-{k}" for k in range(KEYS)}
    baseline = hammer(threads, calls, lambda t, i: plain[_key(t, i)])
    problems = [f"{k} built {n} times" for k, n in builds.counts.items() if n != 1]
    if len(builds.counts) != KEYS:
        problems.append(f"{len(builds.counts)} of {KEYS} keys built")
    if cache.lock_count:
        problems.append(f"lock_count {cache.lock_count} after the load (baseline 0)")
    return Sample(rate, baseline, problems)


def single_flight(threads: int, calls: int) -> Sample:
    running = Tally()
    flight = SingleFlight()

    def fn_for(key: str) -> Callable[[], str]:
        def fn() -> str:
            running.enter(key)
            running.leave(key)
            return key

        return fn

    def shared(t: int, i: int) -> None:
        key = _key(t, i)
        if flight.do(key, fn_for(key)) != key:
            raise AssertionError(f"do({key!r}) returned another key's result")

    rate = hammer(threads, calls, shared)
    baseline = hammer(threads, calls, lambda t, i: fn_for(_key(t, i))())
    problems = [f"fn ran {n} times at once for {k}" for k, n in running.most.items() if n > 1]
    if flight.in_flight:
        problems.append(f"in_flight {flight.in_flight} after the load (baseline 0)")
    return Sample(rate, baseline, problems)


class _Worker:
    def __init__(self, key: str) -> None:
        self.key = key
        self.state = WorkerState.NEW

    def close(self) -> None:
        self.state = WorkerState.CLOSED


def worker_pool(threads: int, calls: int) -> Sample:
    holders = Tally()
    made = Tally()
    fallbacks = Tally()
    problems: list[str] = []

    def factory(key: str) -> _Worker:
        made.add(key)
        return _Worker(key)

    pool: WorkerPool[str, _Worker] = WorkerPool(factory, per_key=PER_KEY, wait=0.05)

    def claim_release(t: int, i: int) -> None:
        key = _key(t, 0)  # each thread keeps to one key: 4 threads per key, 2 workers
        with pool.borrow(key) as worker:
            if worker is None:
                fallbacks.add(key)
                return
            holders.enter(id(worker))
            worker.state = WorkerState.RUNNING
            time.sleep(0)  # hold it across a thread switch, as a real probe would
            holders.leave(id(worker))

    rate = hammer(threads, calls, claim_release)
    locks = {f"key-{k}": threading.Lock() for k in range(KEYS)}

    def bare(t: int, i: int) -> None:
        with locks[_key(t, 0)]:
            time.sleep(0)

    baseline = hammer(threads, calls, bare)
    doubled = [n for n in holders.most.values() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} workers held by two callers at once")
    over = {k: n for k, n in made.counts.items() if n > PER_KEY}
    if over:
        problems.append(f"keys with more than per_key workers made: {over}")
    return Sample(rate, baseline, problems, note=f"{sum(fallbacks.counts.values())} fallbacks")


def run_guard(threads: int, calls: int) -> Sample:
    guard = RunGuard(dedup_window=5.0, max_run_seconds=1800.0)
    active = Tally()
    reasons = Tally()

    def attempt(t: int, i: int) -> None:
        operation = f"op-{t}-{i}"
        try:
            guard.begin(operation, "/generate", {"thread": t, "call": i})
        except RunRejected as rejected:
            reasons.add(rejected.reason)
            return
        active.enter("slot")
        active.add("accepted")
        time.sleep(0)  # the run: other threads get to submit meanwhile
        active.leave("slot")
        guard.end(operation)

    rate = hammer(threads, calls, attempt)
    slot = threading.Lock()

    def bare(t: int, i: int) -> None:
        if slot.acquire(blocking=False):
            time.sleep(0)
            slot.release()

    baseline = hammer(threads, calls, bare)
    problems = []
    if active.most["slot"] > 1:
        problems.append(f"{active.most['slot']} runs accepted at once")
    if reasons.counts["duplicate"]:
        problems.append(f"{reasons.counts['duplicate']} distinct payloads rejected as duplicates")
    if guard.current() is not None:
        problems.append(f"slot still held by {guard.current()} after the load")
    return Sample(rate, baseline, problems, note=f"{active.counts['accepted']} accepted")


def deferred_deleter(threads: int, calls: int) -> Sample:
    deleted = Tally()
    done = threading.Condition()

    def delete(item: str) -> None:
        deleted.add(item)
        with done:
            done.notify_all()

    deleter: DeferredDeleter[str] = DeferredDeleter(delete, thread_name=JANITOR)
    janitors = Tally()

    def schedule(t: int, i: int) -> None:
        deleter.schedule(f"blob-{t}-{i}", 0.0)
        if i % 50 == 0:  # sample how many janitors run
            names = [thread.name for thread in threading.enumerate()]
            if names.count(JANITOR) > 1:
                janitors.add("more than one")

    rate = hammer(threads, calls, schedule)
    with done:
        drained = done.wait_for(lambda: sum(deleted.counts.values()) >= calls, DEADLINE)
    left = deleter.close()
    heap: list[tuple[float, str]] = []
    lock = threading.Lock()

    def push(t: int, i: int) -> None:
        with lock:
            heapq.heappush(heap, (_realtime.monotonic(), f"blob-{t}-{i}"))

    baseline = hammer(threads, calls, push)
    problems = []
    if not drained:
        problems.append(f"only {sum(deleted.counts.values())} of {calls} deleted in {DEADLINE} s")
    twice = [item for item, n in deleted.counts.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} items deleted more than once")
    if left:
        problems.append(f"{len(left)} items still pending at close()")
    if janitors.counts:
        problems.append("more than one janitor thread alive at once")
    return Sample(rate, baseline, problems)


def ordered_turnstile(threads: int, calls: int) -> Sample:
    keys = list(range(calls))
    turnstile: OrderedTurnstile[int] = OrderedTurnstile(keys, timeout=DEADLINE)
    order: list[int] = []
    late: list[int] = []

    def step(t: int, i: int) -> None:
        key = t + i * threads
        with turnstile.turn(key) as in_order:
            order.append(key)
            if not in_order:
                late.append(key)

    rate = hammer(threads, calls, step)
    cond = threading.Condition()
    head = [0]

    def naive(t: int, i: int) -> None:
        key = t + i * threads
        with cond:
            cond.wait_for(lambda: head[0] == key, DEADLINE)
            head[0] += 1
            cond.notify_all()

    baseline = hammer(threads, calls, naive)
    problems = []
    if order != keys:
        first = next(n for n, (a, b) in enumerate(zip(order, keys, strict=False)) if a != b)
        problems.append(f"steps out of key order from position {first}")
    if late:
        problems.append(f"{len(late)} turns failed open")
    return Sample(rate, baseline, problems)


class _Backend:
    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}
        self.writes = Counter[str]()
        self.inside = Counter[str]()
        self.most = Counter[str]()

    async def load(self, key: str) -> Any:
        await asyncio.sleep(0)
        return self.rows.get(key, 0)

    async def store(self, key: str, value: Any) -> None:
        self.inside[key] += 1
        self.most[key] = max(self.most[key], self.inside[key])
        await asyncio.sleep(0)
        self.rows[key] = value
        self.inside[key] -= 1


def keyed_store(tasks: int, calls: int) -> Sample:
    backend = _Backend()
    store: KeyedStore[str, Any] = KeyedStore(backend, copy=lambda value: value)
    last_started: dict[str, int] = {}
    per_task = [calls // tasks + (t < calls % tasks) for t in range(tasks)]

    async def subject(t: int) -> None:
        for i in range(per_task[t]):
            key = _key(t, i)
            if i % 2:
                value = t * calls + i
                last_started[key] = value
                await store.save(key, value)
            else:
                await store.get(key)
            if i % 10 == 9:
                store.clear(key)

    plain: dict[str, Any] = {}

    async def naive(t: int) -> None:
        for i in range(per_task[t]):
            await asyncio.sleep(0)
            if i % 2:
                plain[_key(t, i)] = i
            else:
                plain.get(_key(t, i))

    rate = calls / _time_tasks(subject, tasks)
    baseline = calls / _time_tasks(naive, tasks)
    problems = []
    if any(n > 1 for n in backend.most.values()):
        problems.append("two saves of one key inside backend.store() at once")
    stale = {k: v for k, v in last_started.items() if backend.rows.get(k) != v}
    if stale:
        problems.append(f"{len(stale)} keys where an older save won")
    if store.lock_count:
        problems.append(f"lock_count {store.lock_count} after the load (baseline 0)")
    return Sample(rate, baseline, problems)


def _time_tasks(body: Callable[[int], Any], tasks: int) -> float:
    async def main() -> float:
        started = _realtime.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(body(t) for t in range(tasks))), DEADLINE)
        return _realtime.perf_counter() - started

    return asyncio.run(main())


#: (row name, what the baseline is, the invariants checked, the load)
LOADS: tuple[tuple[str, str, str, Callable[[int, int], Sample]], ...] = (
    (
        "BuildOnceCache.get (hits)",
        "dict lookup",
        "each key built once; lock_count back to 0",
        build_once_cache,
    ),
    (
        "SingleFlight.do",
        "direct call",
        "one fn per key at a time; in_flight back to 0",
        single_flight,
    ),
    (
        "WorkerPool claim/release",
        "bare lock",
        "no double claim; at most per_key workers per key",
        worker_pool,
    ),
    (
        "RunGuard begin/end",
        "non-blocking lock",
        "at most one accepted run; slot free at the end",
        run_guard,
    ),
    (
        "DeferredDeleter.schedule",
        "heappush under a lock",
        "every item deleted once; one janitor; nothing pending",
        deferred_deleter,
    ),
    (
        "OrderedTurnstile.turn",
        "Condition + notify_all",
        "steps in key order; no fail-open",
        ordered_turnstile,
    ),
    (
        "KeyedStore get/save",
        "dict in tasks",
        "newest save wins; one save per key at a time; lock_count back to 0",
        keyed_store,
    ),
)


def measure(repeats: int, *, calls: int = CALLS, threads: int = THREADS) -> list[Measurement]:
    """Every load, ``repeats`` times each; one row per guard."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    rows = []
    for name, baseline_name, invariants, load in LOADS:
        samples = [load(threads, calls) for _ in range(repeats)]
        problems = [problem for sample in samples for problem in sample.problems]
        goal = f"{invariants} (baseline: {baseline_name}"
        goal += f"; {samples[-1].note})" if samples[-1].note else ")"
        if problems:
            goal += f"; VIOLATED: {'; '.join(sorted(set(problems)))}"
        rows.append(
            Measurement(
                name=f"{name}, {threads} {'tasks' if load is keyed_store else 'threads'} "
                f"x {calls} calls",
                median=median_of([s.rate for s in samples]),
                unit="calls/s",
                baseline=median_of([s.baseline for s in samples]),
                goal=goal,
                met=not problems,
            )
        )
    return rows


def run(repeats: int) -> list[Measurement]:
    return measure(repeats)
