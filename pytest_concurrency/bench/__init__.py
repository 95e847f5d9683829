"""``python -m pytest_concurrency bench``: speed and memory, as medians and ratios.

This machine is shared and noisy, so no figure is judged alone: each benchmark
measures its subject *and* a baseline in the same run, repeats both, and
reports medians and their ratio next to the goal. A benchmark module has a
``TITLE`` and a ``run(repeats)`` returning :class:`Measurement` rows.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from pytest_concurrency import _realtime

if TYPE_CHECKING:  # the child of a benchmark imports this package: only what it uses
    from pathlib import Path

SECTIONS = (
    "pytest_concurrency.bench.plugin_bench",
    "pytest_concurrency.bench.clock_bench",
    "pytest_concurrency.bench.explore_bench",
    "pytest_concurrency.bench.memory_bench",
    "pytest_concurrency.bench.lines_bench",
    "pytest_concurrency.bench.aio_bench",
    "pytest_concurrency.bench.load_bench",
    "pytest_concurrency.bench.dual_bench",
    "pytest_concurrency.bench.dpor_bench",
    "pytest_concurrency.bench.shard_bench",
    "pytest_concurrency.bench.linearizability_bench",
)


@dataclass(frozen=True)
class Measurement:
    """A median (and optionally its baseline and goal) in the unit given."""

    name: str
    median: float
    unit: str
    baseline: float | None = None
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.median / self.baseline


def median_of(samples: list[float]) -> float:
    """The median of non-empty samples (one helper so every bench agrees on it)."""
    if not samples:
        raise ValueError("samples must not be empty")
    import statistics  # here: a benchmark's child process imports this package too

    return statistics.median(samples)


def child_report(command: list[str], what: str, timeout: float) -> dict[str, Any]:
    """Run a benchmark's child process; the JSON object on the last line it printed.

    A child that fails, or prints no such line, is a RuntimeError naming
    ``what`` with the last lines it wrote.
    """
    import json  # here: a benchmark's child process imports this package too
    import subprocess

    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{what} failed: {' | '.join(tail)}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def repeat(measure: Callable[[], float], repeats: int) -> list[float]:
    """Call ``measure`` ``repeats`` times and return its samples."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    return [measure() for _ in range(repeats)]


def time_command(command: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> float:
    """The wall seconds of ``command``, which must succeed (its output's end is the error)."""
    import subprocess

    started = _realtime.perf_counter()
    completed = subprocess.run(
        command, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    elapsed = _realtime.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark suite failed: {completed.stdout[-2000:]}")
    return elapsed


def run(repeats: int = 5, out: TextIO = sys.stdout, only: str | None = None) -> int:
    """Run every benchmark section and print its table; always exit 0 (figures, not verdicts)."""
    for module_name in SECTIONS:
        if only and only not in module_name:
            continue
        module = importlib.import_module(module_name)
        measurements: list[Measurement] = module.run(repeats)
        out.write(f"\n== {module.TITLE} ==\n")
        for m in measurements:
            line = f"  {m.name}: median {m.median:.4g} {m.unit}"
            if m.baseline is not None:
                line += f" vs baseline {m.baseline:.4g} {m.unit}"
                if m.ratio is not None:
                    line += f" (ratio {m.ratio:.3f})"
            if m.goal:
                verdict = "" if m.met is None else (" -- met" if m.met else " -- NOT met")
                line += f"; goal {m.goal}{verdict}"
            out.write(line + "\n")
        out.flush()
    return 0
