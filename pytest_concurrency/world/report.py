"""What a failing schedule looks like to a person: the failures, their messages.

A failure message has, in order: what went wrong, how it was found (strategy,
seed, schedules run), the details (wait-for graph and stacks for a deadlock,
the stuck thread's stack and the likely fixes for an uncontrolled block), the
trace of the failing schedule, its replay token, and -- last, so it is the
line a person copies -- the exact command that replays it.
"""

from __future__ import annotations

import sys
import traceback
from types import FrameType
from typing import TYPE_CHECKING, Any

from pytest_concurrency._public import public
from pytest_concurrency.errors import ConcurrencyError, ConcurrencyWarning
from pytest_concurrency.world.model import WaitEdge as WaitEdge
from pytest_concurrency.world.trace import Trace, is_internal, short_path

if TYPE_CHECKING:
    from pytest_concurrency.world.conflicts import Conflict
    from pytest_concurrency.world.scheduler import RunFailure, Scheduler, ThreadRecord

#: trace lines shown in a failure message (all of them stay in ``failure.trace``)
TRACE_LINES_SHOWN = 120


@public
class InterleavingFailure(ConcurrencyError, AssertionError):
    """A schedule of the scenario failed: an assertion, an exception, a deadlock, ...

    ``token`` replays exactly that schedule; ``trace`` has one record per step
    (``str(trace)`` formats it); ``strategy``, ``seed`` and ``schedules_run`` say
    how it was found; ``__cause__`` is the scenario's own exception, if any.
    ``command`` is the command line that replays it; for a deadlock,
    ``wait_for`` is the wait-for graph as :class:`WaitEdge` records.
    ``conflicts`` are the racing memory accesses of the schedule (at memory
    granularity), as :class:`~.conflicts.Conflict` records; ``preemptions`` is
    how many times the schedule switched away from a thread that could have
    gone on (None when the schedule was not replayed).
    """

    #: the command that replays this schedule ("" when built without one)
    command: str = ""
    #: who waits for what when every thread is blocked (a deadlock's graph)
    wait_for: tuple[WaitEdge, ...] = ()
    #: pairs of accesses to one location by two threads, unordered, at least one a write
    conflicts: tuple[Conflict, ...] = ()
    #: preemptions in the reported schedule (None: not replayed, e.g. an uncontrolled block)
    preemptions: int | None = None

    def __init__(
        self,
        message: str,
        *,
        token: str = "",
        trace: Trace | None = None,
        strategy: str = "",
        seed: int | None = None,
        schedules_run: int = 0,
    ) -> None:
        super().__init__(message)
        self.token = token
        self.trace = trace if trace is not None else Trace([])
        self.strategy = strategy
        self.seed = seed
        self.schedules_run = schedules_run

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only attributes survive pickling (pytest-xdist, multiprocessing)
        return (
            _rebuild,
            (
                type(self),
                str(self),
                self.token,
                self.trace,
                self.strategy,
                self.seed,
                self.schedules_run,
            ),
            {
                "command": self.command,
                "wait_for": self.wait_for,
                "conflicts": self.conflicts,
                "preemptions": self.preemptions,
            },
        )


def _rebuild(
    cls: type[InterleavingFailure],
    message: str,
    token: str,
    trace: Trace,
    strategy: str,
    seed: int | None,
    schedules_run: int,
) -> InterleavingFailure:
    return cls(
        message, token=token, trace=trace, strategy=strategy, seed=seed, schedules_run=schedules_run
    )


@public
class Deadlock(InterleavingFailure):
    """Every thread is blocked and no timeout is pending."""


@public
class UncontrolledBlock(InterleavingFailure):
    """A controlled thread blocked (or ran) where the scheduler cannot see it."""


@public
class DataRace(InterleavingFailure):
    """Two threads accessed one location, at least one writing, with nothing ordering them.

    Raised by ``explore(..., races="error")`` even when every assertion held:
    the outcome then depends on timing (and, without the interpreter lock, on
    memory ordering). ``conflicts`` names the accesses.
    """


@public
class DataRaceWarning(ConcurrencyWarning, UserWarning):
    """A passing exploration saw a data race (``explore(..., races="warn")``, the default)."""


@public
class NotExhaustedWarning(ConcurrencyWarning, UserWarning):
    """A passing dpor exploration stopped at its default run cap before covering its space.

    Every schedule it ran passed, but some classes of interleavings never ran:
    the pass proves nothing. Give ``runs=None`` (no cap), a ``preemption_bound``,
    or a smaller scenario (fewer threads, fewer operations each).
    """


@public
class NondeterministicScenarioError(ConcurrencyError, RuntimeError):
    """The same choices led to different schedules: the scenario depends on something else.

    Typical causes: randomness, real time, iteration over a set of objects
    (hash order), state left over from a previous run.
    """


_CLASSES: dict[str, type[InterleavingFailure]] = {
    "deadlock": Deadlock,
    "uncontrolled": UncontrolledBlock,
    "race": DataRace,
}


def build_failure(
    failure: RunFailure,
    *,
    token: str,
    trace: Trace | None,
    found: str,
    command: str,
    strategy: str,
    seed: int | None,
    schedules_run: int,
    notes: tuple[str, ...] = (),
    conflicts: tuple[Conflict, ...] = (),
    preemptions: int | None = None,
) -> InterleavingFailure:
    """The public exception for a failed run, with its whole message."""
    parts = [failure.summary, found]
    parts.extend(notes)
    if failure.details:
        parts += ["", failure.details.rstrip()]
    if trace is not None and len(trace):
        parts += ["", f"trace of the failing schedule ({len(trace)} lines):"]
        parts.append(trace.format(limit=TRACE_LINES_SHOWN))
    parts += ["", f"replay token: {token}", "replay this schedule with:", f"  {command}"]
    error = _CLASSES.get(failure.kind, InterleavingFailure)(
        "\n".join(parts),
        token=token,
        trace=trace,
        strategy=strategy,
        seed=seed,
        schedules_run=schedules_run,
    )
    error.command = command
    error.wait_for = failure.wait_for
    error.conflicts = conflicts
    error.preemptions = preemptions
    error.__cause__ = failure.cause
    return error


# -- stacks ---------------------------------------------------------------------------------------


def format_stack(frame: FrameType | None, indent: str = "    ") -> str:
    """A thread's stack, outermost first, without the harness's own frames."""
    if frame is None:
        return f"{indent}(no stack: the thread is not running)"
    summary = traceback.StackSummary.extract(traceback.walk_stack(frame))
    summary.reverse()
    kept = [entry for entry in summary if not is_internal(entry.filename)]
    if not kept:
        return f"{indent}(only harness frames)"
    lines = []
    for entry in kept:
        lines.append(
            f'{indent}File "{short_path(entry.filename)}", line {entry.lineno}, in {entry.name}'
        )
        if entry.line:
            lines.append(f"{indent}  {entry.line.strip()}")
    return "\n".join(lines)


def _stacks(sched: Scheduler, records: list[ThreadRecord]) -> str:
    frames = sys._current_frames()
    out = ["stacks:"]
    for record in records:
        out.append(f"  {record.name}:")
        out.append(format_stack(frames.get(record.ident) if record.ident is not None else None))
    return "\n".join(out)


# -- deadlocks ---------------------------------------------------------------------------------


_VERBS = {
    "acquire": "waits to acquire",
    "wait": "waits on",
    "get": "waits for an item in",
    "join": "waits for the end of",
}


def _edge(record: ThreadRecord) -> str:
    """``T1 (worker) waits to acquire Lock#2, held by T2 (worker)``."""
    resource = record.waiting_on
    if resource is None:
        return f"{record.name} sleeps"
    verb = _VERBS.get(record.waiting_op, f"waits ({record.waiting_op}) on")
    text = f"{record.name} {verb} {resource.label()}"
    holder = resource.holder()
    if holder is not None and holder is not record and holder is not resource:
        text += f", held by {holder.name}"
    return text


def _cycle(record: ThreadRecord) -> list[ThreadRecord] | None:
    """The wait-for cycle through ``record`` (thread -> resource -> holder -> ...), if any."""
    path: list[ThreadRecord] = []
    node: ThreadRecord | None = record
    while node is not None and node not in path:
        path.append(node)
        resource = node.waiting_on
        node = resource.holder() if resource is not None and node.blocked else None
    if node is None:
        return None
    return path[path.index(node) :]


def wait_for_edges(sched: Scheduler) -> tuple[WaitEdge, ...]:
    """The wait-for graph of the blocked threads, as records (as ``deadlock_details`` says it)."""
    blocked = [r for r in sched.live if r.blocked]
    in_cycle: set[int] = set()
    for record in blocked:
        in_cycle.update(id(member) for member in _cycle(record) or ())
    edges: list[WaitEdge] = []
    for record in blocked:
        resource = record.waiting_on
        if resource is None:
            edges.append(WaitEdge(record.name, "sleep", ""))
            continue
        # a waitable that knows more (an asyncio loop: which task awaits what) gives its edges
        more = getattr(resource, "wait_for_edges", None)
        if callable(more):
            edges.extend(more())
            continue
        holder = resource.holder()
        held = holder is not None and holder is not record and holder is not resource
        edges.append(
            WaitEdge(
                record.name,
                record.waiting_op,
                resource.label(),
                holder.name if held and holder is not None else "",
                id(record) in in_cycle,
            )
        )
    return tuple(edges)


def deadlock_summary(sched: Scheduler) -> str:
    blocked = [r for r in sched.live if r.blocked]
    for record in blocked:
        cycle = _cycle(record)
        if cycle:
            return "deadlock: " + "; ".join(_edge(r) for r in cycle)
    for record in blocked:
        # a waitable that knows more (an asyncio loop: which task awaits what) says it
        explain = getattr(record.waiting_on, "deadlock_summary", None)
        if callable(explain):
            return str(explain())
    if sched.records and sched.records[0].finished:
        names = ", ".join(r.name for r in blocked)
        return (
            f"deadlock at the end of the scenario: it returned, but {names} "
            "can never wake up (never notified, never joined or never shut down)"
        )
    return "deadlock: every thread is blocked and no timeout is pending"


def deadlock_details(sched: Scheduler) -> str:
    blocked = [r for r in sched.live if r.blocked]
    lines = ["wait-for graph:"]
    lines += [f"  {_edge(record)}" for record in blocked]
    for record in blocked:
        more = getattr(record.waiting_on, "deadlock_details", None)
        if callable(more):
            lines += ["", str(more())]
    return "\n".join(lines) + "\n\n" + _stacks(sched, blocked)


def thread_states(sched: Scheduler) -> str:
    """Each live thread: running, or what it waits for; then the stacks."""
    lines = ["threads:"]
    for record in sched.live:
        state = _edge(record) if record.blocked else f"{record.name} is runnable"
        lines.append(f"  {state}")
    return "\n".join(lines) + "\n\n" + _stacks(sched, list(sched.live))


# -- uncontrolled blocks ---------------------------------------------------------------------------


def _fixes(frame: FrameType | None) -> str:
    """Fixes that fit: the primitive the thread is blocked on, where it is held, what to patch."""
    from pytest_concurrency.world import advice, patching

    return advice.uncontrolled_fixes(frame, patching.RUN_PLANS)


def uncontrolled_failure(sched: Scheduler, limit: float) -> RunFailure:
    from pytest_concurrency.world.scheduler import RunFailure

    record = sched.current
    name = record.name if record is not None else "?"
    frames = sys._current_frames()
    frame = frames.get(record.ident) if record is not None and record.ident is not None else None
    return RunFailure(
        "uncontrolled",
        f"uncontrolled block: thread {name} made no scheduling point for {limit:g} s; it is "
        "blocked where the scheduler cannot see it (an uncontrolled lock, a C-level wait, I/O) "
        "or running a long computation",
        details=f"where {name} is:\n{format_stack(frame)}\n\n{_fixes(frame)}",
        thread=name,
    )
