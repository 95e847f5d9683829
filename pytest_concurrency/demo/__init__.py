"""``python -m pytest_concurrency demo``: each capability shown on a real bug.

A section is a module in this package with a ``TITLE`` and a ``run()`` that
returns :class:`Outcome` rows. The runner prints one table per section and
exits non-zero when any demonstration did not behave as expected, so the demo
doubles as a smoke test of the installed package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from pytest_concurrency import _realtime

#: section modules, in the order they are shown
SECTIONS = (
    "pytest_concurrency.demo.fakes_demo",
    "pytest_concurrency.demo.clock_demo",
    "pytest_concurrency.demo.leaks_demo",
    "pytest_concurrency.demo.explore_demo",
    "pytest_concurrency.demo.lines_demo",
    "pytest_concurrency.demo.aio_demo",
    "pytest_concurrency.demo.contracts_demo",
    "pytest_concurrency.demo.linearizability_demo",
)


@dataclass(frozen=True)
class Outcome:
    """One demonstration: what should happen, what did, and whether they agree."""

    name: str
    expected: str
    observed: str
    ok: bool
    seconds: float = 0.0
    detail: str = ""


def _table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )
        if index == 0:
            out.write("  ".join("-" * width for width in widths) + "\n")


def run(out: TextIO = sys.stdout) -> int:
    """Run every section, print its table; return the process exit status."""
    started = _realtime.perf_counter()
    failures = 0
    for module_name in SECTIONS:
        module = importlib.import_module(module_name)
        outcomes: list[Outcome] = module.run()
        out.write(f"\n== {module.TITLE} ==\n")
        rows = [("demonstration", "expected", "observed", "time", "")]
        for outcome in outcomes:
            rows.append(
                (
                    outcome.name,
                    outcome.expected,
                    outcome.observed,
                    f"{outcome.seconds * 1000:.1f} ms",
                    "ok" if outcome.ok else "UNEXPECTED",
                )
            )
            failures += not outcome.ok
        _table(rows, out)
        for outcome in outcomes:
            if outcome.detail:
                out.write(f"\n-- {outcome.name} --\n{outcome.detail.rstrip()}\n")
    elapsed = _realtime.perf_counter() - started
    verdict = (
        "all demonstrations behaved as expected"
        if not failures
        else (f"{failures} demonstration(s) did not behave as expected")
    )
    out.write(f"\n{verdict} ({elapsed:.2f} s)\n")
    return 1 if failures else 0
