"""Demo section: asyncio interleavings on the asyncio exhibits of the bug zoo.

For each exhibit: asyncio's own order (dfs with no deviation) passes -- the bug
hides there; the defaults find it (``explore(buggy)``: the reduction, over
the tasks' steps), and so does every strategy; the trace of the default's
finding and its replay token are shown; the defaults prove the fixed twin.
The cancelled-semaphore exhibit needs ``inject_cancel=1``. Last, virtual time:
a scenario sleeping 480 s and timing out after 600 s takes no real time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.demo.explore_demo import proven_by_default
from pytest_concurrency.demo.zoo import ZooBug
from pytest_concurrency.demo.zoo.aio_zoo import AIO_ZOO, options
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.strategies import uses

TITLE = "asyncio interleavings"

#: None: the default strategy (no strategy= given)
_STRATEGIES = (None, "pct", "random", "dfs")
#: pct needs about 800 schedules for the cancellation bug with this seed
_RUNS = 2000


def _label(bug: ZooBug, extra: dict[str, Any]) -> str:
    flags = "".join(f", {name}={value}" for name, value in extra.items())
    return f"{bug.name} ({bug.origin}{flags})"


def _hidden(bug: ZooBug) -> Outcome:
    started = _realtime.perf_counter()
    result = explore(bug.load().buggy, strategy="dfs", preemption_bound=0, **options(bug))
    return Outcome(
        name=f"{bug.name}: asyncio's own order",
        expected="passes (the bug hides)",
        observed=f"{result.schedules_run} schedule(s), no failure",
        ok=result.exhausted,
        seconds=_realtime.perf_counter() - started,
    )


def _found(bug: ZooBug) -> Outcome:
    counts: list[str] = []
    detail = ""
    started = _realtime.perf_counter()
    for strategy in _STRATEGIES:
        label = strategy or "default"
        chosen: dict[str, Any] = {} if strategy is None else {"strategy": strategy}
        if strategy is not None and uses(strategy, "seed"):
            chosen["seed"] = 1
        try:
            explore(bug.load().buggy, runs=_RUNS, **chosen, **options(bug))
        except InterleavingFailure as failure:
            counts.append(f"{label} {failure.schedules_run}")
            if not detail:
                summary = str(failure).splitlines()[0]
                trace = failure.trace.format(limit=30)
                detail = (
                    f"found by the defaults ({failure.strategy}): {summary}\n{trace}\n"
                    f"replay token: {failure.token}"
                )
        else:
            counts.append(f"{label} -")
    return Outcome(
        name=_label(bug, options(bug)),
        expected="found by the defaults and every strategy",
        observed="schedules: " + ", ".join(counts),
        ok=not any(count.endswith("-") for count in counts),
        seconds=_realtime.perf_counter() - started,
        detail=detail,
    )


def _proven(bug: ZooBug) -> Outcome:
    return proven_by_default(f"{bug.name}: fixed twin", bug.load().fixed, **options(bug))


async def _patient() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.sleep(480)
    try:
        await asyncio.wait_for(asyncio.Event().wait(), 600)
    except asyncio.TimeoutError:
        pass
    assert loop.time() - start == 1080


def _virtual_time() -> Outcome:
    started = _realtime.perf_counter()
    result = explore(_patient, strategy="dfs")
    seconds = _realtime.perf_counter() - started
    return Outcome(
        name="sleep(480), then a 600 s timeout",
        expected="1080 virtual s, no real wait",
        observed=f"{result.schedules_run} schedule in {seconds * 1000:.1f} real ms",
        ok=result.exhausted and seconds < 1.0,
        seconds=seconds,
    )


def run() -> list[Outcome]:
    outcomes: list[Outcome] = []
    for bug in AIO_ZOO:
        outcomes += [_hidden(bug), _found(bug), _proven(bug)]
    outcomes.append(_virtual_time())
    return outcomes
