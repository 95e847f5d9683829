"""One exhaustive exploration split over pytest-xdist workers against the same one unsplit.

The subject is a pytest test: three threads each taking one lock four times,
explored by ``dfs`` within two preemptions until exhausted (several thousand
schedules, 20 s or more unsplit on this machine). It runs in a fresh pytest
process, alternately:

- unsplit: ``pytest`` (one process, one exploration);
- split: ``pytest -n 2 --interleavings-shards=2`` (two xdist workers, one
  shard each; xdist's start-up is part of the time).

Three figures: the split run's wall time against the unsplit one (goal: at
least 1.7x faster on two cores), the unsplit time itself (the goal holds for
an exploration of at least 20 s), and the shards' schedule counts against the
unsplit count (dfs: they must add up exactly), read from the JUnit XML report.
"""

from __future__ import annotations

import os
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from pytest_concurrency.bench import Measurement, median_of, time_command

TITLE = "Shards: one exploration over pytest-xdist workers"

#: the split the goal is stated for
SHARDS = 2
#: at least this much faster, split over SHARDS workers
GOAL_SPEEDUP = 1.7
#: the unsplit exploration must take at least this long for the goal to apply
LONG_ENOUGH = 20.0

_TEST = """
import threading

import pytest

THREADS, SECTIONS = 3, 8


@pytest.mark.interleavings(strategy="dfs", runs=None, preemption_bound=2)
def test_lock_order():
    lock = threading.Lock()
    order = []

    def add(n):
        for _ in range(SECTIONS):
            with lock:
                order.append(n)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(order) == sorted(list(range(THREADS)) * SECTIONS)
"""


def _write_suite(directory: Path) -> None:
    (directory / "test_split.py").write_text(_TEST)
    # an empty ini file so the project's own pyproject settings do not apply
    (directory / "pytest.ini").write_text("[pytest]\n")


def _schedules(report: Path) -> list[int]:
    """The ``interleavings_schedules_run`` property of every test case in a JUnit report."""
    tree = ElementTree.parse(report)
    return [
        int(prop.get("value", "0"))
        for prop in tree.iter("property")
        if prop.get("name") == "interleavings_schedules_run"
    ]


def _time_pytest(directory: Path, extra: list[str]) -> tuple[float, list[int]]:
    report = directory / "report.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "pytest_concurrency",
        "-p",
        "xdist",
        f"--junitxml={report}",
        *extra,
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return time_command(command, cwd=directory, env=env, timeout=900), _schedules(report)


def run(repeats: int) -> list[Measurement]:
    split_args = ["-n", str(SHARDS), f"--interleavings-shards={SHARDS}"]
    with tempfile.TemporaryDirectory(prefix="pc-bench-shards-") as name:
        directory = Path(name)
        _write_suite(directory)
        whole: list[float] = []
        split: list[float] = []
        counts: set[tuple[int, int]] = set()
        split_counts: list[int] = []
        for _ in range(repeats):  # alternate, so drift on a shared machine hits both alike
            seconds, unsplit = _time_pytest(directory, [])
            whole.append(seconds)
            seconds, parts = _time_pytest(directory, split_args)
            split.append(seconds)
            if len(unsplit) != 1 or len(parts) != SHARDS:
                raise RuntimeError(f"expected 1 and {SHARDS} explorations, got {unsplit} {parts}")
            counts.add((unsplit[0], sum(parts)))
            split_counts = sorted(parts)
    unsplit_s, split_s = median_of(whole), median_of(split)
    speedup = unsplit_s / split_s
    (unsplit_count, split_count), *others = sorted(counts)
    return [
        Measurement(
            f"wall time, pytest -n {SHARDS} --interleavings-shards={SHARDS} vs unsplit "
            f"(speedup {speedup:.2f}x, {os.cpu_count()} cores)",
            split_s,
            "s",
            baseline=unsplit_s,
            goal=f">= {GOAL_SPEEDUP}x faster",
            met=speedup >= GOAL_SPEEDUP,
        ),
        Measurement(
            "unsplit exploration (the goal is for one of at least 20 s)",
            unsplit_s,
            "s",
            goal=f">= {LONG_ENOUGH:.0f} s",
            met=unsplit_s >= LONG_ENOUGH,
        ),
        Measurement(
            f"schedules of the {SHARDS} shards together "
            f"({' + '.join(map(str, split_counts))}) vs unsplit",
            split_count,
            "schedules",
            baseline=unsplit_count,
            goal="equal, in every repeat",
            met=not others and split_count == unsplit_count,
        ),
    ]
