"""Virtual time: sleeps cost nothing, deadlines fire in order, real time stays real outside."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency.world.api import explore


def test_sleep_480_costs_nothing_and_wall_clock_follows() -> None:
    observed: list[float] = []

    def scenario() -> None:
        start, wall = time.monotonic(), time.time()
        time.sleep(480)
        observed.append(time.monotonic() - start)
        observed.append(time.time() - wall)
        observed.append((time.perf_counter_ns() - int(start * 1e9)) / 1e9)
        time.sleep(0)
        with pytest.raises(ValueError, match="non-negative"):
            time.sleep(-1)

    real_start = _realtime.monotonic()
    explore(scenario, runs=1)
    assert _realtime.monotonic() - real_start < 5
    assert observed[:2] == [480, 480]
    assert observed[2] == pytest.approx(480)


def test_deadlines_fire_in_order() -> None:
    def scenario() -> None:
        order: list[str] = []
        threads = [
            threading.Thread(target=lambda n=n, d=d: (time.sleep(d), order.append(n)))
            for n, d in (("b", 20), ("a", 10), ("c", 30))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert order == ["a", "b", "c"]

    assert explore(scenario, strategy="dfs", preemption_bound=1).exhausted


def test_time_is_real_outside_controlled_threads() -> None:
    seen: list[float] = []

    def scenario() -> None:
        seen.append(time.monotonic())

    explore(scenario, runs=1)
    assert seen[0] == 100_000.0  # every run starts from the same virtual instant
    assert time.monotonic() == pytest.approx(_realtime.monotonic(), abs=1)
