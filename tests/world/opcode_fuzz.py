"""Generated scenarios for the opcode-granularity replay check, and the check itself.

Each scenario is a few threads, each running a short plan of read-modify-writes
on three shared targets -- an attribute, a dict entry, a module global -- drawn
from :data:`OPS`. Several are written with the constructs whose bytecode has
instructions that belong to no line (exception handling, a suppressing
``with``, comprehensions, generator expressions; which ones have them depends on
the Python version). Every plan increments each target it touches once per
operation, so a lost update fails the scenario's final check, and opcode
granularity finds one within a few schedules.

:func:`check` explores one scenario and, when a schedule fails, replays its
token: the replay must fail the same way and show the same trace.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType, TracebackType

from pytest_concurrency.world.api import explore, replay
from pytest_concurrency.world.report import InterleavingFailure

COUNTER = 0


class Box:
    def __init__(self) -> None:
        self.value = 0


class Suppress:
    """A ``with`` block that swallows a KeyError (its exit runs the line-less cleanup)."""

    def __enter__(self) -> Suppress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return exc_type is KeyError


@dataclass
class Shared:
    box: Box = field(default_factory=Box)
    table: dict[str, int] = field(default_factory=dict)


def attr_increment(state: Shared) -> str:
    state.box.value += 1
    return "box"


def dict_increment(state: Shared) -> str:
    state.table["k"] = state.table.get("k", 0) + 1
    return "k"


def global_increment(state: Shared) -> str:
    global COUNTER
    COUNTER += 1
    return "global"


def except_increment(state: Shared) -> str:
    try:
        state.table["e"] += 1
    except KeyError:
        state.table["e"] = 1
    return "e"


def reraise_increment(state: Shared) -> str:
    try:
        try:
            state.table["r"] += 1
        except KeyError:
            raise LookupError("r") from None
    except LookupError:
        state.table["r"] = 1
    return "r"


def with_increment(state: Shared) -> str:
    with Suppress():
        state.table["w"] += 1
        return "w"
    state.table["w"] = 1
    return "w"


def comprehension_increment(state: Shared) -> str:
    state.box.value = [value + 1 for value in (state.box.value,)].pop()
    return "box"


def generator_increment(state: Shared) -> str:
    state.box.value = next(value + 1 for value in (state.box.value,))
    return "box"


#: every operation: one increment of one target, which it names
OPS: tuple[Callable[[Shared], str], ...] = (
    attr_increment,
    dict_increment,
    global_increment,
    except_increment,
    reraise_increment,
    with_increment,
    comprehension_increment,
    generator_increment,
)


def _value(state: Shared, target: str) -> int:
    if target == "box":
        return state.box.value
    if target == "global":
        return COUNTER
    return state.table.get(target, 0)


def _run(state: Shared, plan: tuple[Callable[[Shared], str], ...], done: list[str]) -> None:
    for op in plan:
        done.append(op(state))


def scenario_for(seed: int) -> Callable[[], None]:
    """Scenario number ``seed``: two or three threads, one to three operations each."""
    rng = random.Random(seed)
    plans = [
        tuple(rng.choice(OPS) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(2, 3))
    ]

    def scenario() -> None:
        global COUNTER
        COUNTER = 0  # state a previous run left would make runs differ
        state = Shared()
        done: list[str] = []
        threads = [threading.Thread(target=_run, args=(state, plan, done)) for plan in plans]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for target in sorted(set(done)):
            expected = done.count(target)
            assert _value(state, target) == expected, f"{target} is {_value(state, target)}"

    scenario.__qualname__ = scenario.__name__ = f"fuzzed_{seed}"
    return scenario


@dataclass(frozen=True)
class Outcome:
    """What exploring one scenario gave: a failure or not, and whether its replay matched."""

    failed: bool
    identical: bool
    why: str = ""


def check(seed: int, runs: int = 40) -> Outcome:
    """Explore scenario ``seed`` at opcode granularity; replay a failure from its token."""
    scenario = scenario_for(seed)
    module: ModuleType = sys.modules[__name__]
    try:
        explore(
            scenario, strategy="random", seed=seed, runs=runs, granularity="opcode", trace=[module]
        )
    except InterleavingFailure as found:
        explored = found
    else:
        return Outcome(failed=False, identical=False)
    try:
        replay(scenario, explored.token, trace=[module])
    except InterleavingFailure as again:
        replayed = again
    else:
        return Outcome(True, False, "the replay passed")
    if "no trace" in str(explored) or not len(explored.trace):
        return Outcome(True, False, f"explore gave no trace:\n{explored}")
    if str(explored.trace) != str(replayed.trace):
        return Outcome(True, False, f"traces differ:\n{explored.trace}\n---\n{replayed.trace}")
    if repr(explored.__cause__) != repr(replayed.__cause__):
        return Outcome(True, False, f"{explored.__cause__!r} != {replayed.__cause__!r}")
    if str(explored).splitlines()[0] != str(replayed).splitlines()[0]:
        return Outcome(True, False, f"summaries differ:\n{explored}\n---\n{replayed}")
    if explored.token != replayed.token:
        return Outcome(True, False, f"tokens differ: {explored.token} != {replayed.token}")
    return Outcome(True, True)


def main(argv: list[str]) -> int:
    """``python opcode_fuzz.py FIRST COUNT``: the figures for scenarios FIRST .. FIRST+COUNT-1."""
    first, count = (int(arg) for arg in argv) if argv else (0, 200)
    failed = identical = 0
    for seed in range(first, first + count):
        outcome = check(seed)
        failed += outcome.failed
        identical += outcome.identical
    version = ".".join(map(str, sys.version_info[:2]))
    print(f"Python {version}: {failed} fuzzed failures, {identical} replayed identically")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
