"""Bench section: what a schedule of a small asyncio scenario costs under the explorer.

- per-schedule cost of a 3-task scenario (three tasks taking turns on an
  ``asyncio.Lock`` around an await, plus the main task) under pct, each
  schedule timed alone: goal 1 ms or less. Baseline, in the same run: the same
  scenario under a plain ``asyncio.run`` outside any exploration.
- the fixed cost every schedule pays whatever it runs -- starting and joining
  the scenario thread, installing and restoring the patches -- measured with
  an empty scenario, to show how much of the figure above is asyncio at all;
- exhaustive dfs (preemption bound 2) of the same scenario.
"""

from __future__ import annotations

import asyncio

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, median_of
from pytest_concurrency.bench.explore_bench import schedule_times_ms
from pytest_concurrency.world.api import explore

TITLE = "asyncio exploration"

_PLAIN_RUNS = 200


async def three_tasks() -> None:
    """Three tasks increment a counter under an ``asyncio.Lock``, awaiting inside it."""
    lock = asyncio.Lock()
    box = {"count": 0}

    async def increment() -> None:
        async with lock:
            value = box["count"]
            await asyncio.sleep(0)
            box["count"] = value + 1

    await asyncio.gather(increment(), increment(), increment())
    assert box["count"] == 3


def _empty() -> None:
    """A scenario that does nothing: what remains is the cost of a run itself."""


def _plain_ms() -> list[float]:
    times = []
    for _ in range(_PLAIN_RUNS):
        started = _realtime.perf_counter()
        asyncio.run(three_tasks())
        times.append((_realtime.perf_counter() - started) * 1000)
    return times


def _exhaustive_dfs() -> tuple[float, int]:
    """Real seconds to exhaust dfs (bound 2), and how many schedules that took."""
    result = explore(three_tasks, strategy="dfs", preemption_bound=2, runs=100_000)
    assert result.exhausted
    return result.elapsed, result.schedules_run


def run(repeats: int) -> list[Measurement]:
    explored: list[float] = []
    plain: list[float] = []
    empty: list[float] = []
    for _ in range(repeats):  # alternate, so that load on a shared machine hits all alike
        plain += _plain_ms()
        explored += schedule_times_ms(three_tasks)
        empty += schedule_times_ms(_empty)
    schedule = median_of(explored)
    dfs_runs = [_exhaustive_dfs() for _ in range(repeats)]
    dfs = median_of([seconds for seconds, _ in dfs_runs])
    return [
        Measurement(
            "per schedule, 3-task asyncio scenario (pct) vs plain asyncio.run",
            schedule,
            "ms",
            baseline=median_of(plain),
            goal="<= 1 ms",
            met=schedule <= 1.0,
        ),
        Measurement(
            "per schedule, empty scenario (a run's fixed cost: thread, patches)",
            median_of(empty),
            "ms",
        ),
        Measurement(
            f"exhaustive dfs (bound 2, {dfs_runs[0][1]} schedules), 3-task asyncio scenario",
            dfs,
            "s",
        ),
    ]
