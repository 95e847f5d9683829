"""Bench section: a long exploration's memory stays flat.

Peak resident memory of a process after one exploration of 1,000 schedules,
and of another after 100,000 schedules of the same scenario: each figure is a
fresh child process (``python -m pytest_concurrency.bench.memory_bench
SCENARIO SCHEDULES`` prints one JSON line), so nothing else this process did
counts. Two scenarios:

- the 3-caller double-checked cache under pct at sync granularity: few
  distinct schedules, the common case;
- three threads taking five explicit scheduling points each under random:
  nearly every schedule differs from every other, which is what made an
  exploration's bookkeeping grow with its runs (see
  :mod:`pytest_concurrency.world.distinct`).

Goal: after 100,000 schedules, no more than :data:`TOLERANCE_KB` above the
figure after 1,000 (the allocator's own noise). Peak RSS is ``ru_maxrss``
(kilobytes on Linux; bytes on macOS, converted).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

from pytest_concurrency.bench import Measurement, child_report
from pytest_concurrency.demo.zoo import single_flight
from pytest_concurrency.world.api import checkpoint, explore

TITLE = "Memory of a long exploration"

SHORT = 1_000
LONG = 100_000
#: kilobytes a long exploration may end above a short one and still count as flat
TOLERANCE_KB = 1024
#: real seconds one child may take
DEADLINE = 900.0
_MODULE = "pytest_concurrency.bench.memory_bench"


def _all_distinct() -> None:
    """Three threads, five points each: some 750,000 interleavings, nearly all runs differ."""

    def steps() -> None:
        for _ in range(5):
            checkpoint()

    others = [threading.Thread(target=steps) for _ in range(2)]
    for thread in others:
        thread.start()
    steps()
    for thread in others:
        thread.join()


#: name -> (scenario, strategy, what the row says)
SCENARIOS: dict[str, tuple[Callable[[], None], str, str]] = {
    "cache": (single_flight.fixed, "pct", "3-caller single-flight, pct"),
    "distinct": (_all_distinct, "random", "3 threads x 5 points, random (every run distinct)"),
}


def _peak_kb() -> int:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def child(name: str, schedules: int) -> dict[str, object]:
    """Explore scenario ``name`` for ``schedules`` schedules in this process; report its peak."""
    if name not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, got {name!r}")
    if schedules < 1:
        raise ValueError(f"schedules must be >= 1, got {schedules}")
    scenario, strategy, _ = SCENARIOS[name]
    result = explore(scenario, strategy=strategy, seed=1, runs=schedules)
    return {
        "peak_kb": _peak_kb(),
        "schedules": result.schedules_run,
        "distinct": result.distinct_schedules,
        "distinct_exact": result.distinct_exact,
    }


def measure(name: str, schedules: int) -> dict[str, Any]:
    """One fresh child process exploring ``name`` for ``schedules`` schedules."""
    command = [sys.executable, "-m", _MODULE, name, str(schedules)]
    return child_report(command, f"memory child {name} {schedules}", DEADLINE)


def run(repeats: int) -> list[Measurement]:
    """One child per figure (memory is not noisy the way time is: no repeats)."""
    rows = []
    for name, (_, _, what) in SCENARIOS.items():
        short = measure(name, SHORT)
        long = measure(name, LONG)
        short_kb, long_kb = int(short["peak_kb"]), int(long["peak_kb"])
        exact = "exact" if long["distinct_exact"] else "estimated"
        rows.append(
            Measurement(
                f"peak RSS after {LONG:,} schedules vs after {SHORT:,}, {what}; "
                f"{long['distinct']} distinct ({exact}); {long_kb - short_kb:+,} KB",
                long_kb / 1024,
                "MB",
                baseline=short_kb / 1024,
                goal=f"<= {TOLERANCE_KB:,} KB more",
                met=long_kb <= short_kb + TOLERANCE_KB,
            )
        )
    return rows


def main(argv: list[str]) -> int:
    """The child of one figure: explore, print one JSON line."""
    if len(argv) != 2:
        sys.stderr.write(f"usage: python -m {_MODULE} {'|'.join(SCENARIOS)} SCHEDULES\n")
        return 2
    print(json.dumps(child(argv[0], int(argv[1]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
