"""Bench section: what a schedule and a handoff cost, against peers, and exhaustive DFS.

- per-schedule cost of the 3-thread single-flight (three callers of a
  double-checked per-key cache, the fixed twin from the zoo) under pct at
  sync granularity (a point at every synchronization, nothing traced), as
  ``explore`` reports it (elapsed over schedules). Against, in the same run, the peers of
  :mod:`.schedule_peers` when installed: goal at least 10 times below the
  best peer at its defaults. The same scenario with fresh OS threads
  (``PYTEST_CONCURRENCY_FRESH_THREADS=1``) shows what the thread pool saves;
  at line and memory granularity (the zoo module traced) it is set against
  interleave-test at line and bytecode granularity, like for like;
- one scheduling handoff between three controlled threads against raw baton
  passing between three OS threads with plain locks, in the same run: goal a
  ratio of 1.5 or less;
- exhaustive dfs (preemption bound 2) of the same scenario: goal under 0.5 s.

A handoff is one raw lock release plus one acquire, the same work as the
baseline plus the scheduler's bookkeeping; a schedule's fixed cost is
installing and restoring the run's patches and handing its threads to
parked OS threads (see :mod:`pytest_concurrency.world.workers`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, median_of, repeat, schedule_peers
from pytest_concurrency.demo.zoo import single_flight
from pytest_concurrency.world import workers
from pytest_concurrency.world.api import checkpoint, explore
from pytest_concurrency.world.options import ExploreOptions
from pytest_concurrency.world.runner import run_schedule
from pytest_concurrency.world.scheduler import ThreadRecord
from pytest_concurrency.world.strategies import ExplorationStrategy, make_strategy

TITLE = "Interleaving explorer"

_SCHEDULES = 200
#: schedules of one ``explore`` sample of the per-schedule figure
_EXPLORED = 1000
_HANDOFFS = 3000
#: ours at finer granularity, traced like the peers trace it, with the peer configuration
#: that places its points alike
_LIKE_FOR_LIKE = (("line", "pct/line"), ("memory", "pct/opcode"))


def schedule_times_ms(scenario: Callable[[], object], schedules: int = _SCHEDULES) -> list[float]:
    """Each schedule of a pct exploration of ``scenario`` timed alone (the loop ``explore`` runs).

    Shared by every per-schedule benchmark (threads here, asyncio in ``aio_bench``).
    """
    strategy = make_strategy("pct", seed=1, depth=3, preemption_bound=2)
    settings = ExploreOptions.create(strategy="pct", granularity="sync").run_settings()
    times = []
    with workers.scope():  # as explore() does: the runs share parked OS threads
        for _ in range(schedules):
            strategy.begin_run()
            started = _realtime.perf_counter()
            outcome = run_schedule(scenario, strategy, settings)
            times.append((_realtime.perf_counter() - started) * 1000)
            strategy.end_run(len(outcome.choices))
            assert outcome.failure is None, outcome.failure.summary
    return times


@contextmanager
def _fresh_threads(fresh: bool) -> Iterator[None]:
    """Every thread of a run on a new OS thread while ``fresh`` (the pool stays out)."""
    previous = os.environ.get(workers.FRESH_THREADS_ENV)
    if fresh:
        os.environ[workers.FRESH_THREADS_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(workers.FRESH_THREADS_ENV, None)
        else:
            os.environ[workers.FRESH_THREADS_ENV] = previous


def explored_ms(*, fresh: bool = False, schedules: int = _EXPLORED, **options: Any) -> float:
    """Milliseconds per schedule of ``explore`` on the fixed 3-caller cache, as it reports them.

    pct, at sync granularity unless ``options`` name another one.
    """
    options.setdefault("granularity", "sync")
    with _fresh_threads(fresh):
        result = explore(single_flight.fixed, strategy="pct", seed=1, runs=schedules, **options)
    return result.elapsed / result.schedules_run * 1000


def _traced(granularity: str) -> float:
    return explored_ms(granularity=granularity, trace=[single_flight], schedules=_EXPLORED // 2)


class _RoundRobin(ExplorationStrategy):
    """Always switches to the next enabled thread: every point is a handoff."""

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        if current is None:
            return enabled[0]
        later = [record for record in enabled if record.index > current.index]
        return later[0] if later else enabled[0]


def _controlled_handoff_us() -> float:
    elapsed: list[float] = []
    per_thread = _HANDOFFS // 3

    def scenario() -> None:
        def passer() -> None:
            for _ in range(per_thread):
                checkpoint()

        others = [threading.Thread(target=passer) for _ in range(2)]
        for thread in others:
            thread.start()
        started = _realtime.perf_counter()
        passer()
        for thread in others:
            thread.join()
        elapsed.append(_realtime.perf_counter() - started)

    # sync granularity: the checkpoints are the only points, nothing is traced
    settings = ExploreOptions.create(granularity="sync", max_steps=_HANDOFFS * 2).run_settings()
    outcome = run_schedule(scenario, _RoundRobin(), settings)
    assert outcome.failure is None, outcome.failure.summary
    return elapsed[0] / _HANDOFFS * 1e6


def _raw_handoff_us() -> float:
    parks = [_realtime.allocate_lock() for _ in range(3)]
    for park in parks:
        park.acquire()
    done = _realtime.allocate_lock()
    done.acquire()
    count = [0]

    def passer(index: int) -> None:
        mine, following = parks[index], parks[(index + 1) % 3]
        mine.acquire()
        while True:
            count[0] += 1
            if count[0] > _HANDOFFS:
                following.release()
                if count[0] == _HANDOFFS + 1:
                    done.release()
                return
            following.release()
            mine.acquire()

    threads = [threading.Thread(target=passer, args=(i,), daemon=True) for i in range(3)]
    for thread in threads:
        thread.start()
    started = _realtime.perf_counter()
    parks[0].release()
    done.acquire()
    elapsed = _realtime.perf_counter() - started
    for thread in threads:
        thread.join(5)
    return elapsed / _HANDOFFS * 1e6


def _exhaustive_dfs_s() -> float:
    result = explore(single_flight.fixed, strategy="dfs", preemption_bound=2, runs=100_000)
    assert result.exhausted
    return result.elapsed


def _schedule_rows(repeats: int) -> list[Measurement]:
    """Per schedule: ours (pooled, fresh, finer granularities) and each peer's, alternated."""
    peers = schedule_peers.available()
    ours: list[float] = []
    fresh: list[float] = []
    finer: dict[str, list[float]] = {granularity: [] for granularity, _ in _LIKE_FOR_LIKE}
    theirs: dict[str, list[float]] = {config.label: [] for config, _ in peers}
    explored_ms(schedules=100)  # warm: imports, the first run's one-time costs
    for _ in range(repeats):  # alternate, so that load on a shared machine hits all alike
        ours.append(explored_ms())
        fresh.append(explored_ms(fresh=True))
        for granularity in finer:
            finer[granularity].append(_traced(granularity))
        for config, _version in peers:
            theirs[config.label].append(schedule_peers.measure(config))
    mine = median_of(ours)
    rows = [
        Measurement(
            "per schedule, 3-caller single-flight, pct at sync granularity, "
            "pooled OS threads vs fresh ones",
            mine,
            "ms",
            baseline=median_of(fresh),
        )
    ]
    peer_medians = {config.label: median_of(theirs[config.label]) for config, _ in peers}
    for config, found in peers:
        rows.append(
            Measurement(
                f"per schedule, same scenario, ours vs {config.label} {found}",
                mine,
                "ms",
                baseline=peer_medians[config.label],
            )
        )
    defaults = [peer_medians[c.label] for c, _ in peers if c.note.startswith("its defaults")]
    if defaults:
        best = min(defaults)
        rows.append(
            Measurement(
                "per schedule, ours vs the best peer at its defaults",
                mine,
                "ms",
                baseline=best,
                goal="ratio <= 0.1",
                met=mine <= 0.1 * best,
            )
        )
    else:
        rows.append(
            Measurement(
                "per schedule (no peer installed: ours only)",
                mine,
                "ms",
                goal="<= 2 ms",
                met=mine <= 2.0,
            )
        )
    for granularity, peer_config in _LIKE_FOR_LIKE:
        matching = [
            c
            for c, _ in peers
            if c.peer == schedule_peers.INTERLEAVE and c.label.split(" ")[1] == peer_config
        ]
        rows.append(
            Measurement(
                f"per schedule at {granularity} granularity (zoo module traced)"
                + (f" vs {matching[0].label}" if matching else ""),
                median_of(finer[granularity]),
                "ms",
                baseline=peer_medians[matching[0].label] if matching else None,
            )
        )
    return rows


def run(repeats: int) -> list[Measurement]:
    rows = _schedule_rows(repeats)
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(repeats):  # alternate, so that load on a shared machine hits both alike
        raw.append(_raw_handoff_us())
        ours.append(_controlled_handoff_us())
    handoff, baseline = median_of(ours), median_of(raw)
    dfs = median_of(repeat(_exhaustive_dfs_s, repeats))
    return [
        *rows,
        Measurement(
            "one handoff, 3 controlled threads vs raw lock baton",
            handoff,
            "us",
            baseline=baseline,
            goal="ratio <= 1.5",
            met=handoff <= 1.5 * baseline,
        ),
        Measurement(
            "exhaustive dfs (bound 2), fixed 3-thread single-flight",
            dfs,
            "s",
            goal="< 0.5 s",
            met=dfs < 0.5,
        ),
    ]
