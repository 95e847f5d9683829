"""Line events from ``sys.monitoring`` (Python 3.12+): only traced code pays.

For an exploration the backend claims a free tool id and listens to PY_START,
the first start of every code object: a traced one gets LINE events (or
INSTRUCTION events, at opcode granularity) switched on for itself alone
(``set_local_events``), and either way the callback returns
``DISABLE`` so that code object never reports a start again. Untraced code
therefore costs one callback per code object per process, then nothing.

``DISABLE`` outlives the exploration (only ``restart_events()``, which would
disturb every other tool such as coverage, undoes it), so the code objects it
was returned for are remembered per tool id: a later exploration that traces
them switches their events on directly.

While the baton holder is the only thread that could run, a line is no choice
at all; the first line that finds it alone unregisters the event's callback,
and every scheduling decision (where another thread may become runnable)
registers it again. Lines (instructions) in that state cost only the
interpreter's instrumentation check, not a Python call.

An INSTRUCTION event carries the instruction's offset, not its line: each
traced code object gets a table from offset to line when its events are
switched on.
"""

from __future__ import annotations

import sys
import weakref
from types import CodeType
from typing import TYPE_CHECKING, Any

from pytest_concurrency.world.lines import line_point
from pytest_concurrency.world.memory import Receivers, memory_point

if TYPE_CHECKING:
    from pytest_concurrency._patching import Patcher
    from pytest_concurrency.world.scheduler import Scheduler
    from pytest_concurrency.world.selection import TraceSelection

_monitoring: Any = getattr(sys, "monitoring", None)

#: tool ids tried in order: the two no convention assigns, then PROFILER_ID and
#: OPTIMIZER_ID; never DEBUGGER_ID (0) or COVERAGE_ID (1)
TOOL_IDS = (3, 4, 2, 5)
TOOL_NAME = "pytest-concurrency"

#: tool id -> code objects whose PY_START this package has DISABLEd for it
_STARTED: dict[int, weakref.WeakSet[CodeType]] = {}


def claim_tool_id() -> int:
    """A free tool id, now ours; a clear error naming the holders when none is free."""
    for tool in TOOL_IDS:
        try:
            _monitoring.use_tool_id(tool, TOOL_NAME)
        except ValueError:
            continue
        return tool
    holders = ", ".join(f"{tool} ({_monitoring.get_tool(tool)})" for tool in TOOL_IDS)
    raise RuntimeError(
        "granularity='line' or 'opcode' needs a free sys.monitoring tool id, but every one it "
        f"may use is taken: {holders}. Stop the profiler or debugger holding one, or explore at "
        "granularity='sync'"
    )


def _offset_lines(code: CodeType) -> tuple[int | None, ...]:
    """The line of each 2-byte code unit of ``code``; None where it belongs to no line."""
    lines: list[int | None] = [None] * (len(code.co_code) // 2)
    for start, end, line in code.co_lines():
        lines[start // 2 : end // 2] = [line] * ((end - start) // 2)
    return tuple(lines)


class MonitoringBackend:
    """LINE (or INSTRUCTION) events on traced code objects only, delivered to
    :func:`~.lines.line_point`."""

    def __init__(self, selection: TraceSelection, kind: str = "line") -> None:
        self._selection = selection
        self._tool: int | None = None
        self._enabled: list[CodeType] = []
        self._sched: Scheduler | None = None
        self._armed = False
        #: memory granularity: no other thread could run at the last decision
        self._alone = False
        events = _monitoring.events
        self._event: int = events.LINE if kind == "line" else events.INSTRUCTION
        #: opcode granularity: traced code object -> line of each code unit
        self._lines: dict[CodeType, tuple[int | None, ...]] = {}
        #: memory granularity: the run's container method loads waiting for their call
        self._receivers: Receivers = {}
        # strong references: the interpreter does not keep one while a callback runs,
        # and the event callback unregisters itself
        self._event_callback = {
            "line": self._on_line,
            "opcode": self._on_instruction,
            "memory": self._on_memory,
        }[kind]
        self._start_callback = self._on_start

    def start(self) -> None:
        tool = claim_tool_id()
        self._tool = tool
        events = _monitoring.events
        try:
            started = _STARTED.setdefault(tool, weakref.WeakSet())
            remembered = list(started)  # before PY_START events: this line runs Python code
            _monitoring.register_callback(tool, events.PY_START, self._start_callback)
            # PY_START first, then the local events: the other order loses every local
            # event of a code object whose start was DISABLEd earlier when a legacy tracer
            # (coverage's C tracer under sys.settrace) runs too (seen on CPython 3.13.0)
            _monitoring.set_events(tool, events.PY_START)
            for code in remembered:
                if self._selection.covers(code):
                    self._enable(code)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        tool = self._tool
        if tool is None:
            return
        self._tool = None
        self._armed = False
        events = _monitoring.events
        try:
            _monitoring.set_events(tool, 0)
            for code in self._enabled:
                _monitoring.set_local_events(tool, code, 0)
            _monitoring.register_callback(tool, events.PY_START, None)
            _monitoring.register_callback(tool, self._event, None)
        finally:
            self._enabled.clear()
            self._lines.clear()
            _monitoring.free_tool_id(tool)

    def attach(self, sched: Scheduler, patcher: Patcher) -> None:
        patcher.setattr(self, "_sched", sched)
        patcher.setattr(self, "_receivers", {})
        sched.line_hook = self
        self.rearm()

    def rearm(self) -> None:
        """Deliver events again: the scheduler is deciding, who can run may change."""
        self._alone = False
        if not self._armed and self._tool is not None:
            self._armed = True
            _monitoring.register_callback(self._tool, self._event, self._event_callback)

    def _enable(self, code: CodeType) -> None:
        if self._event == _monitoring.events.INSTRUCTION:
            self._lines[code] = _offset_lines(code)
        _monitoring.set_local_events(self._tool, code, self._event)
        self._enabled.append(code)

    def _on_start(self, code: CodeType, offset: int) -> object:
        tool = self._tool
        if tool is not None:
            if self._selection.covers(code):
                self._enable(code)
            _STARTED[tool].add(code)
        return _monitoring.DISABLE

    def _on_line(self, code: CodeType, line: int) -> None:
        sched = self._sched
        if sched is not None and line_point(sched, code, line):
            self._disarm()

    def _on_instruction(self, code: CodeType, offset: int) -> None:
        sched = self._sched
        if sched is not None and line_point(sched, code, self._lines[code][offset // 2], offset):
            self._disarm()

    def _on_memory(self, code: CodeType, offset: int) -> None:
        sched = self._sched
        if sched is None:
            return
        line = self._lines[code][offset // 2]
        alone = memory_point(
            sched,
            code,
            line,
            offset,
            sys._getframe(1),
            self._alone,
            self._selection.covers,
            self._receivers,
        )
        if alone and sched.events is None:
            self._disarm()  # nobody needs to hear of accesses made alone
        else:
            self._alone = alone

    def _disarm(self) -> None:
        """The baton holder is alone: no more Python calls until :meth:`rearm`."""
        if self._armed:
            self._armed = False
            _monitoring.register_callback(self._tool, self._event, None)
