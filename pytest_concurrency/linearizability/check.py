"""``check_linearizable``: generated scenarios, each explored, each schedule checked.

Hypothesis draws a scenario; the explorer runs it under every class of
schedules (``dpor``); inside each schedule the operations run on controlled
threads and are recorded, and once the threads are joined the history is
checked against the sequential model. A history no sequential order explains
fails that schedule (an ``AssertionError`` inside it, so the explorer reports
the schedule and its token); Hypothesis then shrinks the scenario, and the
smallest failing one is raised as :class:`NotLinearizable`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given

from pytest_concurrency import _realtime
from pytest_concurrency._checks import check_count
from pytest_concurrency.linearizability.checker import check_history
from pytest_concurrency.linearizability.failure import NotLinearizable, explain
from pytest_concurrency.linearizability.history import MAIN, Entry, Recorder
from pytest_concurrency.linearizability.operations import Operation, declared
from pytest_concurrency.linearizability.scenario import Call, Scenario, scenarios
from pytest_concurrency.world import selection
from pytest_concurrency.world.exploration import run_exploration
from pytest_concurrency.world.options import UNSET, ExploreOptions
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.threads import spawn

__all__ = ["LinearizabilityResult", "check_linearizable"]


@dataclass(frozen=True)
class LinearizabilityResult:
    """How a check that found every history linearizable went."""

    #: scenarios Hypothesis generated (each explored)
    scenarios: int
    #: schedules run over all of them (one history checked per schedule)
    schedules_run: int
    #: True when every scenario's exploration covered all its schedules
    exhausted: bool
    #: real seconds spent exploring, and in the linearizability checker (part of it)
    explore_seconds: float
    checker_seconds: float


@dataclass
class _Tally:
    scenarios: int = 0
    schedules: int = 0
    exhausted: bool = True
    explore_seconds: float = 0.0
    checker_seconds: float = 0.0


def _name(subject: Callable[[], object]) -> str:
    return str(getattr(subject, "__qualname__", type(subject).__qualname__))


def _traced_files(callables: Sequence[object]) -> list[str]:
    """The source files of the subject, the model and the operations, where tracing may look."""
    installed = selection._installed_dirs()
    files: list[str] = []
    for item in callables:
        path = selection.scenario_file(item) if callable(item) else None
        if path is None or path in files or selection._is_harness(path):
            continue
        own = path.startswith(selection._PACKAGE_DIR + os.sep)  # demo, contracts: user-level
        if path.startswith("<") or (path.startswith(installed) and not own):
            continue
        files.append(path)
    return files


def _selection(callables: Sequence[object]) -> selection.TraceSelection:
    """The default trace: where the subject, model and operations are, plus the project's code."""
    files = _traced_files(callables)
    root = os.getcwd()
    described = sorted(os.path.relpath(path, root) for path in files)
    return selection.TraceSelection(
        files=files, dirs=[], root=root, description="linearizability:" + "\n".join(described)
    )


def _settings(given_settings: hypothesis.settings | None) -> hypothesis.settings:
    """The user's (or the profile's) settings, with no deadline: explorations are slow."""
    base = given_settings if given_settings is not None else hypothesis.settings()
    if not isinstance(base, hypothesis.settings):
        raise TypeError(f"settings must be a hypothesis.settings object, got {type(base).__name__}")
    suppressed = [*base.suppress_health_check, HealthCheck.too_slow]
    return hypothesis.settings(base, deadline=None, suppress_health_check=suppressed)


class _Column:
    """One thread's operations, named ``operations`` so a trace reads ``T1 (operations)``."""

    __name__ = "operations"

    def __init__(self, run: Callable[..., None], *args: Any) -> None:
        self.run = run
        self.args = args

    def __call__(self) -> None:
        self.run(*self.args)


class _Explorer:
    """Explores one scenario: every schedule recorded and checked."""

    def __init__(
        self,
        subject: Callable[[], Any],
        operations: tuple[Operation, ...],
        model: Callable[[], Any],
        key: Callable[[Any], Hashable] | None,
        options: ExploreOptions,
        tally: _Tally,
        *,
        asynchronous: bool,
    ) -> None:
        self.asynchronous = asynchronous
        self.subject = subject
        self.calls = {op.name: op.call for op in operations}
        self.model = model
        self.key = key
        self.options = options
        self.tally = tally
        self.name = f"check_linearizable[{_name(subject)}]"

    def _run(self, recorder: Recorder, obj: Any, thread: str, calls: Sequence[Call]) -> None:
        for call in calls:
            recorder.run(thread, call, functools.partial(self.calls[call.name], obj, *call.args))

    async def _run_async(
        self, recorder: Recorder, obj: Any, thread: str, calls: Sequence[Call]
    ) -> None:
        for call in calls:
            operation = functools.partial(self.calls[call.name], obj, *call.args)
            await recorder.run_async(thread, call, operation)

    def _check(self, recorder: Recorder, failing: list[tuple[Entry, ...]]) -> None:
        """Check the run's history; a failure is an AssertionError in the run (and kept)."""
        history = tuple(sorted(recorder.entries, key=lambda entry: entry.index))
        started = _realtime.perf_counter()
        verdict = check_history(history, self.model, self.calls, key=self.key)
        self.tally.checker_seconds += _realtime.perf_counter() - started
        if not verdict.linearizable:
            shown = recorder.history()
            failing[:] = [shown]
            raise AssertionError(explain(shown, verdict))

    def _threaded(self, scenario: Scenario, failing: list[tuple[Entry, ...]]) -> Any:
        def run_scenario() -> None:
            obj = self.subject()
            recorder = Recorder()
            self._run(recorder, obj, MAIN, scenario.prefix)
            handles = [
                spawn(_Column(self._run, recorder, obj, f"T{number}", column))
                for number, column in enumerate(scenario.threads(), 1)
            ]
            for handle in handles:
                handle.join()
            for handle in handles:
                handle.result()
            self._run(recorder, obj, MAIN, scenario.suffix)
            self._check(recorder, failing)

        return run_scenario

    def _tasks(self, scenario: Scenario, failing: list[tuple[Entry, ...]]) -> Any:
        async def run_scenario() -> None:
            obj = self.subject()
            recorder = Recorder()
            await self._run_async(recorder, obj, MAIN, scenario.prefix)
            await asyncio.gather(
                *(
                    self._run_async(recorder, obj, f"T{number}", column)
                    for number, column in enumerate(scenario.threads(), 1)
                )
            )
            await self._run_async(recorder, obj, MAIN, scenario.suffix)
            self._check(recorder, failing)

        return run_scenario

    def __call__(self, scenario: Scenario) -> None:
        if not len(scenario):
            return  # no operation: nothing to order, trivially linearizable
        failing: list[tuple[Entry, ...]] = []
        tally = self.tally
        run_scenario = (self._tasks if self.asynchronous else self._threaded)(scenario, failing)
        run_scenario.__qualname__ = run_scenario.__name__ = self.name
        started = _realtime.perf_counter()
        tally.scenarios += 1
        try:
            result = run_exploration(run_scenario, self.options, command=self._command)
        except InterleavingFailure as found:
            if not failing:
                raise
            history = failing[-1]
            raise NotLinearizable(
                str(found).removeprefix("AssertionError: "),
                operations=[list(column) for column in scenario.threads()],
                prefix=list(scenario.prefix),
                suffix=list(scenario.suffix),
                history=history,
                token=found.token,
                trace=found.trace,
                strategy=found.strategy,
                seed=found.seed,
                schedules_run=found.schedules_run,
            ) from None
        finally:
            tally.explore_seconds += _realtime.perf_counter() - started
        tally.schedules += result.schedules_run
        tally.exhausted = tally.exhausted and result.exhausted

    def _command(self, token: str) -> str:
        return (
            "check_linearizable(...) again, with the same arguments: Hypothesis's database "
            "tries this scenario first, and its exploration is deterministic"
        )


def check_linearizable(
    subject: Callable[[], Any],
    operations: Mapping[str, Any],
    *,
    model: Callable[[], Any] | None = None,
    threads: int = 2,
    ops_per_thread: int = 2,
    prefix: int = 0,
    suffix: int = 0,
    key: Callable[[Any], Hashable] | None = None,
    settings: hypothesis.settings | None = None,
    strategy: str | None = None,
    runs: int | None = None,
    time_budget: float | None = None,
    preemption_bound: int | None = UNSET,
    max_steps: int = 20_000,
    uncontrolled_timeout: float = 2.0,
    patch: Any = (),
    trace: Any = None,
) -> LinearizabilityResult:
    """Check that every outcome of concurrent operations on ``subject()`` is a sequential one.

    ``operations`` maps a name to ``callable(subject, *args)``, or to a tuple
    ``(callable, strategy, ...)`` with one Hypothesis strategy per extra
    argument. Scenarios -- up to ``prefix`` operations run alone, then
    ``threads`` threads of up to ``ops_per_thread`` operations each, then up to
    ``suffix`` alone -- are generated and shrunk by Hypothesis (``settings``,
    default the current profile's, always without a deadline). Each is
    explored with ``strategy`` (``runs``, ``time_budget``,
    ``preemption_bound``, ``max_steps``, ``uncontrolled_timeout``, ``patch``
    and ``trace`` as for ``explore``; by default the files of the subject's
    and the model's classes, of their factories and of the operations are
    traced, with the project's code: one subject and one model are made
    before any run to find them), and
    each schedule's history -- every operation's result or exception, and
    when it was called and returned -- must match some order of the same
    operations that keeps each thread's order and real-time order, run one at
    a time on ``model()`` (None: a fresh ``subject()``). Results compare with
    ``==``, exceptions by type and args. ``key(model)`` names a model state for
    memoising the search (default: the model's plain-data attributes; none
    when it holds other objects).

    Operations that are coroutine functions make the check asynchronous: each
    thread is then a task on the controlled event loop (``strategy`` None picks
    ``dpor``, for threads and tasks alike), and the model's coroutines are run
    to their end one at a time (they must not wait).

    Raises :class:`NotLinearizable` for the smallest failing scenario.
    """
    __tracebackhide__ = True
    if not callable(subject):
        raise TypeError(f"subject must be a callable returning a fresh object, got {subject!r}")
    declared_ops = declared(operations)
    if model is not None and not callable(model):
        raise TypeError(f"model must be None or a callable returning a fresh model, got {model!r}")
    if key is not None and not callable(key):
        raise TypeError(f"key must be None or a callable(model) -> hashable, got {key!r}")
    asynchronous = any(inspect.iscoroutinefunction(op.call) for op in declared_ops)
    if strategy is None:
        strategy = "dpor"  # every class of interleavings, of threads and of task steps
    check_count("threads", threads, minimum=1)
    check_count("ops_per_thread", ops_per_thread, minimum=1)
    check_count("prefix", prefix)
    check_count("suffix", suffix)
    options = ExploreOptions.create(
        strategy=strategy,
        runs=runs,
        preemption_bound=preemption_bound,
        time_budget=time_budget,
        max_steps=max_steps,
        uncontrolled_timeout=uncontrolled_timeout,
        patch=patch,
        trace=trace,
        seed=0 if strategy in ("random", "pct") else UNSET,  # the same schedules every time
        # the verdict is about outcomes: a linearizable object may race by design (the
        # unlocked first read of a double-checked cache); explore it for its data races
        races="ignore" if strategy == "dpor" else UNSET,
    )
    if trace is None and options.granularity != "sync":
        # one subject made here, outside any run, names the class whose code to trace
        # (the factory may be a lambda or a method living elsewhere)
        made = [type(subject()), *(() if model is None else (type(model()),))]
        callables = [subject, model, *made, *(op.call for op in declared_ops)]
        options = replace(options, trace=_selection(callables))
    tally = _Tally()
    explorer = _Explorer(
        subject,
        declared_ops,
        model if model is not None else subject,
        key,
        options,
        tally,
        asynchronous=asynchronous,
    )
    drawn = scenarios(
        declared_ops, threads=threads, ops_per_thread=ops_per_thread, prefix=prefix, suffix=suffix
    )

    def linearizability_scenario(scenario: Scenario) -> None:
        explorer(scenario)

    digest = f"{_name(subject)}|{sorted(operations)}|{threads}x{ops_per_thread}|{prefix}|{suffix}"
    linearizability_scenario._hypothesis_internal_add_digest = hashlib.sha256(  # type: ignore[attr-defined]
        digest.encode()
    ).digest()
    test = _settings(settings)(given(drawn)(linearizability_scenario))
    test()
    return LinearizabilityResult(
        scenarios=tally.scenarios,
        schedules_run=tally.schedules,
        exhausted=tally.exhausted,
        explore_seconds=tally.explore_seconds,
        checker_seconds=tally.checker_seconds,
    )
