"""Bench section: what line-level preemption costs, in traced code and outside it.

Every figure is a ratio measured in one run: a loop of plain Python (no calls,
no synchronisation) timed inside a controlled thread, at
``granularity="line"``, against the very same loop in a run at
``granularity="sync"``:

- *traced, alone*: the loop's file is traced and no other thread can run, so
  no line is a choice. With ``sys.monitoring`` (3.12+) a line then costs the
  interpreter's instrumentation check only (goal: 2x or less); with
  ``sys.settrace`` (3.10, 3.11, and shown for comparison on 3.12+) a Python
  call per line;
- *untraced*: line mode is on but the loop's file is not in ``trace``
  (goal: about 1.0, nothing outside traced code pays);
- *traced, every line a choice*: another thread is runnable, so each line asks
  the strategy (which keeps the running thread): the price of a real
  scheduling decision per line, in microseconds per line.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Callable

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, median_of
from pytest_concurrency.world.lines import LineTracing, default_backend
from pytest_concurrency.world.options import ExploreOptions
from pytest_concurrency.world.runner import RunSettings, run_schedule
from pytest_concurrency.world.scheduler import ThreadRecord
from pytest_concurrency.world.strategies import ExplorationStrategy

TITLE = "Line-level preemption"

#: loop iterations per sample (three lines each) when no line is a choice
_ITERATIONS = 200_000
#: loop iterations per sample when every line is a choice
_CHOICE_ITERATIONS = 5_000
#: lines of the loop below run per iteration
_LINES_PER_ITERATION = 3


def _loop(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += i * i
    return total


class _KeepRunning(ExplorationStrategy):
    """Never switches away from a running thread: every choice costs, nothing moves."""

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        return current if current is not None else enabled[0]


def _timed(settings: RunSettings, iterations: int, *, rival: bool) -> float:
    """Real seconds the loop takes inside one controlled run."""
    elapsed: list[float] = []

    def scenario() -> None:
        other = threading.Thread(target=_loop, args=(1,)) if rival else None
        if other is not None:
            other.start()  # runnable from here on: each traced line is a choice
        started = _realtime.perf_counter()
        _loop(iterations)
        elapsed.append(_realtime.perf_counter() - started)
        if other is not None:
            other.join()

    outcome = run_schedule(scenario, _KeepRunning(), settings)
    assert outcome.failure is None, outcome.failure.summary
    return elapsed[0]


def _settings(granularity: str, trace: list[str] | None, steps: int) -> RunSettings:
    options = ExploreOptions.create(granularity=granularity, trace=trace, max_steps=steps)
    return options.run_settings()


def _with_backend(settings: RunSettings, backend: str) -> RunSettings:
    assert settings.lines is not None
    return dataclasses.replace(settings, lines=LineTracing(settings.lines.selection, backend))


def _ratio(
    measure: Callable[[], float], baseline: Callable[[], float], repeats: int
) -> tuple[float, float]:
    """Medians of ``measure`` and ``baseline``, alternated so load hits both alike."""
    ours: list[float] = []
    base: list[float] = []
    for _ in range(repeats):
        base.append(baseline())
        ours.append(measure())
    return median_of(ours), median_of(base)


def run(repeats: int) -> list[Measurement]:
    here = __file__
    elsewhere = sys.modules["pytest_concurrency.bench"].__file__ or here  # never runs the loop
    steps = _CHOICE_ITERATIONS * _LINES_PER_ITERATION * 2 + 1000
    sync = _settings("sync", None, steps)
    traced = _settings("line", [here], steps)
    untraced = _settings("line", [elsewhere], steps)

    def plain() -> float:
        return _timed(sync, _ITERATIONS, rival=False)

    def alone(settings: RunSettings) -> Callable[[], float]:
        def measure() -> float:
            assert settings.lines is not None
            with settings.lines:
                return _timed(settings, _ITERATIONS, rival=False)

        return measure

    backend = default_backend()
    rows: list[Measurement] = []
    median, baseline = _ratio(alone(traced), plain, repeats)
    goal = "ratio <= 2" if backend == "monitoring" else "ratio <= 2 (needs 3.12+)"
    rows.append(
        Measurement(
            f"traced loop, alone, {backend} (Python {sys.version_info[0]}.{sys.version_info[1]})",
            median * 1000,
            "ms",
            baseline=baseline * 1000,
            goal=goal,
            met=median <= 2 * baseline,
        )
    )
    if backend == "monitoring":
        median, baseline = _ratio(alone(_with_backend(traced, "settrace")), plain, repeats)
        rows.append(
            Measurement(
                "traced loop, alone, settrace (for comparison)",
                median * 1000,
                "ms",
                baseline=baseline * 1000,
            )
        )
    median, baseline = _ratio(alone(untraced), plain, repeats)
    rows.append(
        Measurement(
            f"untraced loop while line mode is on, {backend}",
            median * 1000,
            "ms",
            baseline=baseline * 1000,
            goal="ratio ~1.0 (<= 1.1)",
            met=median <= 1.1 * baseline,
        )
    )

    def choosing() -> float:
        assert traced.lines is not None
        with traced.lines:
            return _timed(traced, _CHOICE_ITERATIONS, rival=True)

    lines = _CHOICE_ITERATIONS * _LINES_PER_ITERATION
    per_line = median_of([choosing() for _ in range(repeats)]) / lines * 1e6
    rows.append(
        Measurement(f"traced loop, every line a choice, {backend}", per_line, "us per line")
    )
    return rows
