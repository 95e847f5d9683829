"""The step-by-step trace of one schedule, recorded only when a failure is replayed.

Exploring records nothing but the choices. Once a schedule fails it is replayed
once with a :class:`Tracer` attached, which records every operation with the
thread, the resource (with where it was created) and the ``file:line`` of the
*user* code that asked for it -- frames of the harness and of the standard
library's ``threading``, ``queue`` and ``concurrent.futures`` are skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from pytest_concurrency import _callsite

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler, ThreadRecord

# which frames are the user's: one rule for every report (see pytest_concurrency._callsite)
is_internal = _callsite.is_internal
short_path = _callsite.short_path
user_frame = _callsite.user_frame


def user_location(frame: FrameType | None = None) -> str:
    """``file:line`` of the innermost user frame of the calling thread."""
    found = user_frame(frame if frame is not None else sys._getframe(1))
    if found is None:
        return "?"
    return _callsite.location(found)


def resource_label(resource: object) -> str:
    label = getattr(resource, "label", None)
    if callable(label):
        return str(label())
    return "" if resource is None else str(resource)


@dataclass(frozen=True)
class TraceStep:
    """One line of a trace: an operation (numbered), or what happened around it.

    ``preempted`` is "before" when the thread was switched away just before
    ``op`` (it performs it later, on its own numbered line), "after" when it was
    switched away right after performing it, "" otherwise.
    """

    step: int
    thread: str
    op: str
    resource: str = ""
    location: str = ""
    note: str = ""
    preempted: str = ""


class Trace:
    """The steps of one schedule, as records (``.steps``) and as text (``str()``)."""

    def __init__(self, steps: list[TraceStep]) -> None:
        self.steps = tuple(steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[TraceStep]:
        return iter(self.steps)

    def format(self, limit: int | None = None) -> str:
        """The trace as aligned text; with ``limit``, only the last ``limit`` rows.

        Runs of identical lines (a spin loop) are shown once with a count.
        """
        rows: list[tuple[str, ...]] = []
        previous: tuple[str, ...] | None = None
        repeats = 0
        for s in self.steps:
            key = (s.thread, s.op, s.resource, s.location, s.note, s.preempted)
            if key == previous:
                repeats += 1
                continue
            if repeats:
                rows.append(("", "", f"... {repeats} more like the line above", "", "", ""))
            previous, repeats = key, 0
            note = f"<- preempted {s.preempted} this: {s.note}" if s.preempted else s.note
            rows.append(
                (str(s.step) if s.step else "", s.thread, s.op, s.resource, s.location, note)
            )
        if repeats:
            rows.append(("", "", f"... {repeats} more like the line above", "", "", ""))
        omitted = 0
        if limit is not None and len(rows) > limit:
            omitted = len(rows) - limit
            rows = rows[omitted:]
        rows.insert(0, ("step", "thread", "operation", "resource", "where", ""))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [f"  ... {omitted} earlier rows omitted (see failure.trace)"] if omitted else []
        for row in rows:
            cells = [row[0].rjust(widths[0])] + [
                c.ljust(w) for c, w in zip(row[1:5], widths[1:], strict=True)
            ]
            lines.append(("  " + "  ".join(cells) + "  " + row[5]).rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"<Trace of {len(self.steps)} lines>"


class Tracer:
    """Collects :class:`TraceStep` rows while a schedule is replayed."""

    def __init__(self) -> None:
        self.steps: list[TraceStep] = []
        self._performed = 0

    def trace(self) -> Trace:
        return Trace(self.steps)

    def site(self) -> str:
        """Where the user code creating a primitive is."""
        return user_location(sys._getframe(1))

    def op(
        self,
        sched: Scheduler,
        me: ThreadRecord,
        op: str,
        resource: object,
        preempted_after_by: ThreadRecord | None = None,
    ) -> None:
        self._performed += 1
        after = preempted_after_by
        self.steps.append(
            TraceStep(
                self._performed,
                _acting(me),
                op,
                resource_label(resource),
                user_location(),
                note=f"{after.name} runs" if after is not None else "",
                preempted="after" if after is not None else "",
            )
        )

    def step(self, actor: str, op: str, resource: str = "", location: str = "") -> None:
        """A numbered operation its caller describes in full (an asyncio task's step)."""
        self._performed += 1
        self.steps.append(TraceStep(self._performed, actor, op, resource, location))

    def preempted(
        self, sched: Scheduler, me: ThreadRecord, op: str, resource: object, nxt: ThreadRecord
    ) -> None:
        self.steps.append(
            TraceStep(
                0,
                _acting(me),
                op,
                resource_label(resource),
                user_location(),
                note=f"{nxt.name} runs",
                preempted="before",
            )
        )

    def blocks(
        self,
        sched: Scheduler,
        me: ThreadRecord,
        op: str,
        resource: object,
        deadline: float | None,
    ) -> None:
        notes = []
        holder = getattr(resource, "holder", None)
        owner = holder() if callable(holder) else None
        if owner is not None and owner is not me and owner is not resource:
            notes.append(f"held by {owner.name}")
        if deadline is not None:
            notes.append(f"timeout in {deadline - sched.now:g} s")
        label = resource_label(resource)
        self.steps.append(TraceStep(0, _acting(me), f"blocks ({op})", label, note=", ".join(notes)))

    def wakes(self, sched: Scheduler, me: ThreadRecord, op: str, woken: bool) -> None:
        if not woken:
            self.steps.append(TraceStep(0, _acting(me), "wakes" if op == "sleep" else "times out"))

    def time_advanced(self, sched: Scheduler) -> None:
        elapsed = sched.now - sched.start.monotonic
        self.steps.append(TraceStep(0, "", "time", note=f"virtual time is now +{elapsed:g} s"))

    def finished(self, sched: Scheduler, me: ThreadRecord) -> None:
        self.steps.append(TraceStep(0, me.name, "finishes"))

    def note(self, sched: Scheduler, me: ThreadRecord, text: str) -> None:
        self.steps.append(TraceStep(0, me.name, "note", note=text))


def _acting(record: ThreadRecord) -> str:
    """Who a row is about: the asyncio task whose step a loop thread runs, else the thread."""
    acting = record.acting_for
    return record.name if acting is None else acting.name
