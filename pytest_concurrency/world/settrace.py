"""Line events from ``sys.settrace`` (Python 3.10 and 3.11), on controlled threads only.

A trace function is per thread. During a run ``threading._trace_hook`` -- what
``threading.settrace`` sets and every new ``Thread`` installs before its
``run()`` -- is ours: in a thread of the run it installs a per-thread
:class:`_ThreadChain`; in any other thread it steps aside for whatever hook was
there before. The chain's global function answers each ``call`` event with a
local tracer only for frames of traced code, so lines elsewhere are not
reported at all. At opcode granularity it also sets ``f_trace_opcodes`` on
those frames, and their ``"opcode"`` events are the points instead. While the
baton holder is alone the local tracers return at once (see
:func:`~.lines.line_point`); they still cost a Python call per line.

Coverage measures controlled threads through the same hook (its hook starts
its C tracer in each new thread), so the chain calls the previous tracer first
on every event and keeps the local tracer it returns: coverage keeps
recording. Coverage's C tracer re-installs itself as the thread's trace
function whenever Python code calls it with a ``call`` event; the chain then
takes it as the new inner tracer and puts itself back on top.
"""

from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from pytest_concurrency.world.lines import line_point
from pytest_concurrency.world.memory import Receivers, memory_point

if TYPE_CHECKING:
    from pytest_concurrency._patching import Patcher
    from pytest_concurrency.world.scheduler import Scheduler
    from pytest_concurrency.world.selection import TraceSelection

#: a trace function: (frame, event, arg) -> the local trace function, or None
TraceFunction = Any


def _frame_tracer(backend: SettraceBackend, inner: TraceFunction) -> TraceFunction:
    """The local tracer of one traced frame: the chained tracer first, then the point."""
    kind = backend.event  # "line" or "opcode": the event that is (or may be) a point
    if inner is None:  # the common case, kept to the fewest operations per event

        def alone(frame: FrameType, event: str, arg: object) -> TraceFunction:
            if event == kind and backend.armed:
                _point(backend, frame)
            return alone

        return alone

    def chained(frame: FrameType, event: str, arg: object) -> TraceFunction:
        nonlocal inner
        result = inner(frame, event, arg)
        if result is not None:  # as CPython does: None keeps the current local tracer
            inner = result
        if event == kind and backend.armed:
            _point(backend, frame)
        return chained

    return chained


def _point(backend: SettraceBackend, frame: FrameType) -> None:
    sched = backend.sched
    if sched is None:
        return
    line: int | None = frame.f_lineno  # None on an instruction that belongs to no line
    if backend.kind == "memory":
        alone = memory_point(
            sched,
            frame.f_code,
            line,
            frame.f_lasti,
            frame,
            backend.alone,
            backend.selection.covers,
            backend.receivers,
        )
        if sched.events is not None:  # a reducing strategy hears of accesses made alone
            backend.alone = alone
            return
    else:
        offset = frame.f_lasti if backend.kind == "opcode" else None
        alone = line_point(sched, frame.f_code, line, offset)
    if alone:
        backend.armed = False


class _ThreadChain:
    """One controlled thread's global trace function, chained to the one it replaced."""

    __slots__ = ("_backend", "function", "inner")

    def __init__(self, backend: SettraceBackend, inner: TraceFunction) -> None:
        self._backend = backend
        self.inner = inner
        #: the object handed to ``sys.settrace`` (kept: ``sys.gettrace()`` is compared with it)
        self.function = self._global

    def _global(self, frame: FrameType, event: str, arg: object) -> TraceFunction:
        inner = self.inner
        local = None
        if inner is not None:
            local = inner(frame, event, arg)
            installed = sys.gettrace()
            if installed is not self.function:  # the inner tracer put itself (or another) back
                self.inner = installed
                sys.settrace(self.function)
        backend = self._backend
        if backend.selection.covers(frame.f_code):
            if backend.event == "opcode":
                frame.f_trace_opcodes = True
            return _frame_tracer(backend, local)
        if local is None:
            frame.f_trace_lines = False  # no tracer wants this frame's lines: skip the calls
        return local


class SettraceBackend:
    """Per-thread trace functions on the run's threads, delivered to :func:`~.lines.line_point`."""

    def __init__(self, selection: TraceSelection, kind: str = "line") -> None:
        self.selection = selection
        #: the granularity: "line", "opcode" or "memory"
        self.kind = kind
        #: the trace event that is (or, at memory granularity, may be) a point
        self.event = "line" if kind == "line" else "opcode"
        self.sched: Scheduler | None = None
        #: False while the baton holder is alone: its lines are no points (see line_point)
        self.armed = False
        #: memory granularity with a reducing strategy: alone, accesses are only recorded
        self.alone = False
        #: memory granularity: the run's container method loads waiting for their call
        self.receivers: Receivers = {}
        self._previous: TraceFunction = None

    def start(self) -> None:
        """Nothing process-wide to install: each run patches the thread hook."""

    def stop(self) -> None:
        """Nothing to undo: each run's patches are restored with it."""

    def attach(self, sched: Scheduler, patcher: Patcher) -> None:
        self._previous = getattr(threading, "_trace_hook", None)
        patcher.setattr(self, "sched", sched)
        patcher.setattr(self, "receivers", {})
        patcher.setattr(threading, "_trace_hook", self._install)
        sched.line_hook = self
        self.armed = True
        self.alone = False

    def rearm(self) -> None:
        self.armed = True
        self.alone = False

    def _install(self, frame: FrameType, event: str, arg: object) -> TraceFunction:
        """The first trace event of a thread started during the run."""
        previous = self._previous
        sched = self.sched
        if sched is None or sched.record_of(threading.current_thread()) is None:
            sys.settrace(previous)  # not one of ours: as if we were never there
            return previous(frame, event, arg) if previous is not None else None
        chain = _ThreadChain(self, previous)
        sys.settrace(chain.function)
        return chain.function(frame, event, arg)
