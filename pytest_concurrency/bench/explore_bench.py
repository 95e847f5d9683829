"""Bench section: what a schedule and a handoff cost, and exhaustive DFS of the single-flight.

- per-schedule cost of the 3-thread single-flight (three callers of a
  double-checked per-key cache, the fixed twin from the zoo) under pct: goal
  2 ms or less;
- one scheduling handoff between three controlled threads against raw baton
  passing between three OS threads with plain locks, in the same run: goal a
  ratio of 1.5 or less;
- exhaustive dfs (preemption bound 2) of the same scenario: goal under 0.5 s.

A schedule's fixed cost is dominated by starting its OS threads (one per
controlled thread, about 0.1-0.2 ms each here); a handoff is one raw lock
release plus one acquire, the same work as the baseline plus the scheduler's
bookkeeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, median_of, repeat
from pytest_concurrency.demo.zoo import single_flight
from pytest_concurrency.world.api import checkpoint, explore
from pytest_concurrency.world.options import ExploreOptions
from pytest_concurrency.world.runner import run_schedule
from pytest_concurrency.world.scheduler import ThreadRecord
from pytest_concurrency.world.strategies import ExplorationStrategy, make_strategy

TITLE = "Interleaving explorer"

_SCHEDULES = 200
_HANDOFFS = 3000


def schedule_times_ms(scenario: Callable[[], object], schedules: int = _SCHEDULES) -> list[float]:
    """Each schedule of a pct exploration of ``scenario`` timed alone (the loop ``explore`` runs).

    Shared by every per-schedule benchmark (threads here, asyncio in ``aio_bench``).
    """
    strategy = make_strategy("pct", seed=1, depth=3, preemption_bound=2)
    settings = ExploreOptions.create().run_settings()
    times = []
    for _ in range(schedules):
        strategy.begin_run()
        started = _realtime.perf_counter()
        outcome = run_schedule(scenario, strategy, settings)
        times.append((_realtime.perf_counter() - started) * 1000)
        strategy.end_run(len(outcome.choices))
        assert outcome.failure is None, outcome.failure.summary
    return times


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

    settings = ExploreOptions.create(max_steps=_HANDOFFS * 2).run_settings()
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


def run(repeats: int) -> list[Measurement]:
    schedule = median_of(
        [t for _ in range(repeats) for t in schedule_times_ms(single_flight.fixed)]
    )
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(repeats):  # alternate, so that load on a shared machine hits both alike
        raw.append(_raw_handoff_us())
        ours.append(_controlled_handoff_us())
    handoff, baseline = median_of(ours), median_of(raw)
    dfs = median_of(repeat(_exhaustive_dfs_s, repeats))
    return [
        Measurement(
            "per schedule, 3-thread single-flight (pct, median of each run)",
            schedule,
            "ms",
            goal="<= 2 ms",
            met=schedule <= 2.0,
        ),
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
