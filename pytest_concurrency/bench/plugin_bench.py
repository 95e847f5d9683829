"""What the plugin costs a test suite that does not use it.

Two figures, each next to a baseline measured in the same run:

- wall time of 2,000 trivial generated tests with the plugin active versus the
  same run with ``-p no:concurrency`` (goal: under 3% more), judged on the
  median of the ratios of adjacent on/off runs (a pair sees the same load, so
  drift between pairs cancels out), with the CPU time those pytest processes
  used next to it: CPU time does not grow when another process takes the
  machine, so it shows what the plugin itself costs even on a busy machine;
- the time to import the plugin and its wiring modules in a fresh interpreter
  where pytest is already imported (goal: under 30 ms), next to importing
  pytest-timeout, a comparable plugin.

Both run in subprocesses so that nothing this process imported skews them, and
the on/off runs alternate so that drift on a shared machine hits both alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pytest_concurrency.bench import Measurement, median_of, time_command

TITLE = "Plugin overhead"

TRIVIAL_TESTS = 2000

_IMPORT_PROBE = """
import time, importlib, sys
import pytest
start = time.perf_counter()
for name in sys.argv[1:]:
    importlib.import_module(name)
print(time.perf_counter() - start)
"""

_PLUGIN_MODULES = (
    "pytest_concurrency.plugin",
    "pytest_concurrency._wiring.fakes",
    "pytest_concurrency._wiring.clock",
    "pytest_concurrency._wiring.leaks",
    "pytest_concurrency._wiring.interleavings",
    "pytest_concurrency._wiring.controllable_locks",
)


def _write_suite(directory: Path) -> None:
    lines = [f"def test_trivial_{i}():\n    assert {i} == {i}\n" for i in range(TRIVIAL_TESTS)]
    (directory / "test_trivial.py").write_text("\n".join(lines))
    # an empty ini file so the project's own pyproject settings do not apply
    (directory / "pytest.ini").write_text("[pytest]\n")


def _time_pytest(directory: Path, extra: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pytest run of the suite in ``directory``."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    before = _children_cpu()
    wall = time_command(command, cwd=directory, env=env, timeout=600)
    return wall, _children_cpu() - before


def _children_cpu() -> float:
    """CPU seconds used so far by this process's finished children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time_import(modules: tuple[str, ...]) -> float:
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, *modules],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(completed.stdout.strip())


def run(repeats: int) -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="pc-bench-") as name:
        directory = Path(name)
        _write_suite(directory)
        _time_pytest(directory, [])  # warm the file system and bytecode caches
        on: list[tuple[float, float]] = []
        off: list[tuple[float, float]] = []
        for _ in range(repeats):
            on.append(_time_pytest(directory, ["-p", "pytest_concurrency"]))
            off.append(_time_pytest(directory, ["-p", "no:concurrency"]))
    wall_ratio = median_of([a[0] / b[0] for a, b in zip(on, off, strict=True)])
    cpu_ratio = median_of([a[1] / b[1] for a, b in zip(on, off, strict=True)])
    imports = [_time_import(_PLUGIN_MODULES) * 1000 for _ in range(max(repeats, 5))]
    baseline_imports = [_time_import(("pytest_timeout",)) * 1000 for _ in range(max(repeats, 5))]
    import_ms = median_of(imports)
    return [
        Measurement(
            f"{TRIVIAL_TESTS} trivial tests, plugin on vs -p no:concurrency: wall time",
            median_of([wall for wall, _ in on]),
            "s",
            baseline=median_of([wall for wall, _ in off]),
        ),
        Measurement(
            "  the same, on/off wall time of adjacent runs (median of the pairs' ratios)",
            wall_ratio,
            "x",
            goal="< 1.03 (under 3% more wall time)",
            met=wall_ratio < 1.03,
        ),
        Measurement(
            "  the same, on/off CPU time of those pytest processes (median of the pairs' ratios)",
            cpu_ratio,
            "x",
        ),
        Measurement(
            "import of the plugin and its wiring (pytest already imported)",
            import_ms,
            "ms",
            baseline=median_of(baseline_imports),
            goal="< 30 ms (baseline: importing pytest-timeout)",
            met=import_ms < 30,
        ),
    ]
