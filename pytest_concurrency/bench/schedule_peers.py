"""What one schedule of the 3-caller double-checked cache costs two peers, through their own APIs.

The scenario is :mod:`pytest_concurrency.demo.zoo.single_flight`'s fixed cache
with three cold callers of one key. Each peer explores it the way its
documentation says, in the configurations listed in :data:`CONFIGURATIONS`:

- interleave-test 0.1.0 (Python 3.12+): ``interleave_test.explore(model,
  iterations=, seed=, strategy=, granularity=)`` in this process, on the very
  scenario function (it patches ``threading`` for each run, as we do); the
  figure is its own ``Result.elapsed`` over its schedules;
- frontrun 0.7.0: ``frontrun.explore(setup=, workers=, count=3, invariant=,
  ...)``, with the same cache and callers split into its setup / workers /
  invariant shape. It explores only under its ``frontrun`` launcher, so each
  measurement is a child process started through it, timing the exploration
  inside (not the interpreter's start); the figure is that time over its
  executions (``num_explored``).

A configuration a peer cannot run here (not installed, or this Python
version) is left out; :func:`measure` says which ran. Run as a module, it is
the child of one frontrun measurement: ``python -m
pytest_concurrency.bench.schedule_peers frontrun STRATEGY SCHEDULES`` prints one
JSON line.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.bench import child_report
from pytest_concurrency.bench.dpor_bench import peer_launcher
from pytest_concurrency.demo.zoo import single_flight

INTERLEAVE = "interleave_test"
FRONTRUN = "frontrun"
#: real seconds one frontrun child may take
DEADLINE = 600.0
_MODULE = "pytest_concurrency.bench.schedule_peers"


@dataclass(frozen=True)
class Configuration:
    """One way a peer explores the scenario, and how many schedules one sample runs."""

    peer: str
    strategy: str
    #: interleave-test's granularity ("" for frontrun, which has one: bytecode)
    granularity: str
    schedules: int
    #: what the row says about it
    note: str

    @property
    def label(self) -> str:
        parts = [self.strategy] + ([self.granularity] if self.granularity else [])
        return f"{_DISTRIBUTION[self.peer]} {'/'.join(parts)} ({self.note})"


_DISTRIBUTION = {INTERLEAVE: "interleave-test", FRONTRUN: "frontrun"}

CONFIGURATIONS = (
    Configuration(INTERLEAVE, "random", "opcode", 200, "its defaults"),
    Configuration(INTERLEAVE, "pct", "opcode", 200, "pct, every bytecode a point"),
    Configuration(INTERLEAVE, "pct", "line", 200, "pct, its fastest: every line a point"),
    Configuration(FRONTRUN, "dpor", "", 100, "its defaults, first 100 executions"),
    Configuration(FRONTRUN, "random", "", 100, "random schedules"),
)


def version(peer: str) -> str | None:
    """The installed version of ``peer`` (a module name), or None when it cannot run here."""
    if importlib.util.find_spec(peer) is None:
        return None
    from importlib import metadata

    try:
        return metadata.version(_DISTRIBUTION[peer])
    except metadata.PackageNotFoundError:
        return None


class _CacheState:
    """frontrun's shape of the scenario: the shared state its ``setup`` returns."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.results: list[object] = []
        self.cache = single_flight.FixedSingleFlight(self._load)

    def _load(self, key: str) -> str:
        self.loads.append(key)
        return f"vocab:{key}"


def _caller(state: _CacheState) -> None:
    state.results.append(state.cache.get("clip"))


def _holds(state: _CacheState) -> bool:
    return state.results == ["vocab:clip"] * 3 and len(state.loads) == 1


def _interleave_ms(config: Configuration) -> float:
    peer: Any = importlib.import_module(INTERLEAVE)
    result = peer.explore(
        single_flight.fixed,
        iterations=config.schedules,
        seed=1,
        strategy=config.strategy,
        granularity=config.granularity,
    )
    if not result.ok:
        raise RuntimeError(f"interleave-test failed the fixed cache: {result.failure}")
    return float(result.elapsed) / int(result.schedules_run) * 1000


def frontrun_child(strategy: str, schedules: int) -> dict[str, object]:
    """In a child under the launcher: explore with frontrun, report ms per execution."""
    if strategy not in ("dpor", "random"):
        raise ValueError(f"strategy must be 'dpor' or 'random', got {strategy!r}")
    if schedules < 1:
        raise ValueError(f"schedules must be >= 1, got {schedules}")
    peer: Any = importlib.import_module(FRONTRUN)  # its import is not part of the time
    limits = (
        {"max_executions": schedules}
        if strategy == "dpor"
        else {"max_attempts": schedules, "seed": 1}
    )
    started = _realtime.perf_counter()
    result = peer.explore(
        setup=_CacheState,
        workers=_caller,
        count=3,
        invariant=_holds,
        strategy=strategy,
        trace_packages=[single_flight.__name__],
        **limits,
    )
    elapsed = _realtime.perf_counter() - started
    if result.property_holds is False:
        raise RuntimeError("frontrun failed the fixed cache")
    executions = int(result.num_explored)
    return {"executions": executions, "ms": elapsed / executions * 1000}


def _frontrun_ms(config: Configuration) -> float:
    command = [
        *peer_launcher(),
        sys.executable,
        "-m",
        _MODULE,
        FRONTRUN,
        config.strategy,
        str(config.schedules),
    ]
    return float(child_report(command, f"frontrun {config.strategy}", DEADLINE)["ms"])


def available() -> list[tuple[Configuration, str]]:
    """The configurations that can run here, each with its peer's version."""
    versions = {peer: version(peer) for peer in _DISTRIBUTION}
    return [
        (config, found) for config in CONFIGURATIONS if (found := versions[config.peer]) is not None
    ]


def measure(config: Configuration) -> float:
    """One sample: milliseconds per schedule of ``config``."""
    return _interleave_ms(config) if config.peer == INTERLEAVE else _frontrun_ms(config)


def main(argv: list[str]) -> int:
    """The child of one frontrun measurement: explore, print one JSON line."""
    if len(argv) != 3 or argv[0] != FRONTRUN:
        sys.stderr.write(f"usage: python -m {_MODULE} {FRONTRUN} dpor|random SCHEDULES\n")
        return 2
    print(json.dumps(frontrun_child(argv[1], int(argv[2]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
