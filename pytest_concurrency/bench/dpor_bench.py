"""Bench section: complete answers by partial-order reduction, against a peer's, and a point's cost.

Part one. For each scenario of :mod:`.dpor_scenarios` (a lost update to find;
four guards to prove), the executions and the real seconds a *complete* answer
takes: ours with ``strategy="dpor"`` (memory granularity, no preemption
bound), against frontrun 0.7.0's DPOR with its defaults (preemption bound 2)
measured in the same run, when frontrun is importable. frontrun explores only
under its ``frontrun`` launcher, so each of its measurements is a fresh
subprocess started through the launcher, timed from the outside; ours is timed
the same way, in a fresh subprocess each, so both pay an interpreter's start
and their imports -- from compiled bytecode both (:func:`compile_ours`: an
installed package has its bytecode, an editable one may not). Medians over
the repeats, alternated so that load on a
shared machine hits both alike. Goal per scenario: our time at most 1/5 of the
peer's, and no more executions. Without frontrun the rows say so and only
ours is measured.

Part two. What a scheduling point at memory granularity costs: a plain-Python
loop of attribute reads and writes, timed inside one controlled thread, at
``granularity="memory"`` (every access a point) against the same loop at
``granularity="sync"`` (no point, no tracing), in nanoseconds per access.

Run as a module, it is the child of one measurement: ``python -m
pytest_concurrency.bench.dpor_bench ours|frontrun INDEX`` explores scenario
INDEX and prints one JSON line (executions, seconds inside, outcome).
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.bench import Measurement, child_report, dpor_scenarios, median_of
from pytest_concurrency.bench.dpor_scenarios import SCENARIOS, Scenario, as_scenario
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure

TITLE = "Partial-order reduction"

PEER = "frontrun"
PEER_VERSION = "0.7.0"
#: real seconds one child may take before it counts as hung
DEADLINE = 600.0
#: loop iterations per sample of the per-point cost (three accesses each)
ITERATIONS = 20_000
_ACCESSES_PER_ITERATION = 3
_MODULE = "pytest_concurrency.bench.dpor_bench"


@dataclass(frozen=True)
class Answer:
    """One child's report: what it concluded, after how many executions, in what time."""

    outcome: str
    executions: int
    #: real seconds inside the child, exploration only
    inner: float
    #: real seconds of the whole child process, measured by the parent
    wall: float


def peer_version() -> str | None:
    """frontrun's installed version, or None when it cannot be imported here."""
    import importlib.util  # the parent's imports are not in a child's time

    if importlib.util.find_spec(PEER) is None:
        return None
    from importlib import metadata  # here: a child measuring ours should not pay for it

    try:
        return metadata.version(PEER)
    except metadata.PackageNotFoundError:
        return None


def peer_launcher() -> list[str]:
    """The command prefix that runs a Python command under frontrun's launcher."""
    from pathlib import Path

    script = Path(sys.executable).with_name(PEER)
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", f"{PEER}.cli"]  # the launcher's module runs as a script too


def _ours(scenario: Scenario) -> tuple[str, int]:
    try:
        result = explore(as_scenario(scenario), strategy="dpor", runs=None, trace=[dpor_scenarios])
    except InterleavingFailure as failure:
        return "found", failure.schedules_run
    return ("proved" if result.exhausted else "not exhausted"), result.schedules_run


def _peer(scenario: Scenario) -> tuple[str, int]:
    peer: Any = importlib.import_module(PEER)  # installed only for this benchmark
    result = peer.explore(
        setup=scenario.setup,
        workers=scenario.worker,
        count=scenario.threads,
        invariant=scenario.invariant,
        trace_packages=[dpor_scenarios.__name__],
    )
    holds = result.property_holds
    outcome = "found" if holds is False else "proved" if holds else "inconclusive"
    return outcome, int(result.num_explored)


def child(tool: str, index: int) -> dict[str, object]:
    """Explore scenario ``index`` with ``tool`` ("ours" or "frontrun") in this process."""
    if tool not in ("ours", PEER):
        raise ValueError(f"tool must be 'ours' or {PEER!r}, got {tool!r}")
    if not 0 <= index < len(SCENARIOS):
        raise ValueError(f"index must be in 0..{len(SCENARIOS) - 1}, got {index}")
    scenario = SCENARIOS[index]
    if tool == PEER:
        importlib.import_module(PEER)  # its import is not part of its exploration's time
    started = _realtime.perf_counter()
    outcome, executions = (_ours if tool == "ours" else _peer)(scenario)
    inner = _realtime.perf_counter() - started
    return {"outcome": outcome, "executions": executions, "inner": inner}


def measure(tool: str, index: int) -> Answer:
    """One fresh child process exploring scenario ``index``, timed from here."""
    command = [sys.executable, "-m", _MODULE, tool, str(index)]
    if tool == PEER:
        command = peer_launcher() + command
    started = _realtime.perf_counter()
    report = child_report(command, f"{tool} on scenario {index}", DEADLINE)
    wall = _realtime.perf_counter() - started
    return Answer(str(report["outcome"]), int(report["executions"]), float(report["inner"]), wall)


def _medians(answers: list[Answer]) -> tuple[str, float, float, float]:
    outcomes = sorted({answer.outcome for answer in answers})
    return (
        "/".join(outcomes),
        median_of([float(answer.executions) for answer in answers]),
        median_of([answer.inner for answer in answers]),
        median_of([answer.wall for answer in answers]),
    )


def _scenario_rows(index: int, repeats: int, version: str | None) -> list[Measurement]:
    scenario = SCENARIOS[index]
    ours: list[Answer] = []
    theirs: list[Answer] = []
    for _ in range(repeats):
        if version is not None:
            theirs.append(measure(PEER, index))
        ours.append(measure("ours", index))
    outcome, executions, inner, wall = _medians(ours)
    wanted = "found" if scenario.expect == "find" else "proved"
    label = f"{scenario.name} ({scenario.expect}; ours {outcome}"
    if version is None:
        label += f"; {PEER} not installed, ours only)"
        return [
            Measurement(f"{label}: executions", executions, "runs", met=outcome == wanted),
            Measurement(f"{label}: seconds, fresh process", wall, "s"),
            Measurement(f"{label}: seconds exploring", inner, "s"),
        ]
    peer_outcome, peer_executions, peer_inner, peer_wall = _medians(theirs)
    label += f"; {PEER} {version} {peer_outcome})"
    return [
        Measurement(
            f"{label}: executions",
            executions,
            "runs",
            baseline=peer_executions,
            goal=f"<= {PEER}'s",
            met=outcome == wanted and executions <= peer_executions,
        ),
        Measurement(
            f"{label}: seconds, fresh process",
            wall,
            "s",
            baseline=peer_wall,
            goal="ratio <= 0.2",
            met=wall <= 0.2 * peer_wall,
        ),
        Measurement(f"{label}: seconds exploring", inner, "s", baseline=peer_inner),
    ]


class _Box:
    """Shared state for the per-point loop: created outside any run, so every access is a point."""

    def __init__(self) -> None:
        self.left = 0
        self.right = 0


_BOX = _Box()


def _loop(box: _Box, iterations: int) -> None:
    for _ in range(iterations):
        box.left = box.right + 1  # two accesses
        box.right = 1  # one
    box.left = box.right = 0


def _loop_seconds(granularity: str, iterations: int, *, rival: bool = False) -> float:
    """Real seconds the loop takes inside one controlled run at ``granularity``.

    With ``rival`` another thread is runnable throughout, so at memory
    granularity every access asks the strategy (dfs's first schedule, which
    keeps the running thread): a real scheduling decision per access.
    """
    elapsed: list[float] = []

    def scenario() -> None:
        other = threading.Thread(target=_loop, args=(_Box(), 1)) if rival else None
        if other is not None:
            other.start()
        started = _realtime.perf_counter()
        _loop(_BOX, iterations)
        elapsed.append(_realtime.perf_counter() - started)
        if other is not None:
            other.join()

    steps = iterations * _ACCESSES_PER_ITERATION * 2 + 1000
    trace = [__file__] if granularity == "memory" else None
    explore(scenario, strategy="dfs", runs=1, granularity=granularity, trace=trace, max_steps=steps)
    return elapsed[0]


def _alternated(
    measure: Callable[[], float], baseline: Callable[[], float], repeats: int
) -> tuple[float, float]:
    """Medians of ``measure`` and ``baseline``, alternated so that load hits both alike."""
    ours: list[float] = []
    base: list[float] = []
    for _ in range(repeats):
        base.append(baseline())
        ours.append(measure())
    return median_of(ours), median_of(base)


def point_rows(repeats: int, iterations: int = ITERATIONS) -> list[Measurement]:
    """The per-access cost at memory granularity against the same loop at sync granularity."""
    version = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
    rows: list[Measurement] = []
    for rival, count, what in (
        (False, iterations, "no other thread runnable"),
        (True, max(1, iterations // 4), "another thread runnable: every access a choice"),
    ):
        traced, plain = _alternated(
            functools.partial(_loop_seconds, "memory", count, rival=rival),
            functools.partial(_loop_seconds, "sync", count, rival=rival),
            repeats,
        )
        accesses = count * _ACCESSES_PER_ITERATION
        rows.append(
            Measurement(
                f"attribute loop, {what}, memory vs sync granularity ({version})",
                traced * 1000,
                "ms",
                baseline=plain * 1000,
            )
        )
        rows.append(
            Measurement(
                f"one access at memory granularity, {what}, over an untraced one ({version})",
                (traced - plain) / accesses * 1e9,
                "ns per access",
            )
        )
    return rows


def compile_ours() -> None:
    """Write this package's bytecode, as installing it does, before any child is timed.

    frontrun runs from the bytecode pip wrote when it was installed. This
    package, installed editable or used where ``PYTHONDONTWRITEBYTECODE`` is
    set, has none, and every fresh child would compile each of its modules
    from source first -- a cost no installed copy pays, and most of a small
    scenario's time.
    """
    import compileall
    from pathlib import Path

    import pytest_concurrency

    compileall.compile_dir(str(Path(pytest_concurrency.__file__).parent), quiet=1)


def run(repeats: int) -> list[Measurement]:
    compile_ours()
    version = peer_version()
    rows: list[Measurement] = []
    for index in range(len(SCENARIOS)):
        rows.extend(_scenario_rows(index, repeats, version))
    rows.extend(point_rows(repeats, ITERATIONS))
    return rows


def main(argv: list[str]) -> int:
    """The child of one measurement: explore, print one JSON line."""
    if len(argv) != 2:
        sys.stderr.write(f"usage: python -m {_MODULE} ours|{PEER} INDEX\n")
        return 2
    print(json.dumps(child(argv[0], int(argv[1]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
