"""Line events from ``sys.monitoring`` (Python 3.12+): only traced code pays.

For an exploration the backend claims a free tool id and listens to PY_START,
the first start of every code object: a traced one gets LINE events switched
on for itself alone (``set_local_events``), and either way the callback returns
``DISABLE`` so that code object never reports a start again. Untraced code
therefore costs one callback per code object per process, then nothing.

``DISABLE`` outlives the exploration (only ``restart_events()``, which would
disturb every other tool such as coverage, undoes it), so the code objects it
was returned for are remembered per tool id: a later exploration that traces
them switches their LINE events on directly.

While the baton holder is the only thread that could run, a line is no choice
at all; the first line that finds it alone unregisters the LINE callback, and
every scheduling decision (where another thread may become runnable)
registers it again. Lines in that state cost only the interpreter's
instrumentation check, not a Python call.
"""

from __future__ import annotations

import sys
import weakref
from types import CodeType
from typing import TYPE_CHECKING, Any

from pytest_concurrency.world.lines import line_point

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
        "granularity='line' needs a free sys.monitoring tool id, but every one it may use is "
        f"taken: {holders}. Stop the profiler or debugger holding one, or explore at "
        "granularity='sync'"
    )


class MonitoringBackend:
    """LINE events on traced code objects only, delivered to :func:`~.lines.line_point`."""

    def __init__(self, selection: TraceSelection) -> None:
        self._selection = selection
        self._tool: int | None = None
        self._enabled: list[CodeType] = []
        self._sched: Scheduler | None = None
        self._armed = False
        # strong references: the interpreter does not keep one while a callback runs,
        # and the LINE callback unregisters itself
        self._line_callback = self._on_line
        self._start_callback = self._on_start

    def start(self) -> None:
        tool = claim_tool_id()
        self._tool = tool
        events = _monitoring.events
        try:
            _monitoring.register_callback(tool, events.PY_START, self._start_callback)
            started = _STARTED.setdefault(tool, weakref.WeakSet())
            for code in list(started):
                if self._selection.covers(code):
                    self._enable(code)
            _monitoring.set_events(tool, events.PY_START)
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
            _monitoring.register_callback(tool, events.LINE, None)
        finally:
            self._enabled.clear()
            _monitoring.free_tool_id(tool)

    def attach(self, sched: Scheduler, patcher: Patcher) -> None:
        patcher.setattr(self, "_sched", sched)
        sched.line_hook = self
        self.rearm()

    def rearm(self) -> None:
        """Deliver line events again: the scheduler is deciding, who can run may change."""
        if not self._armed and self._tool is not None:
            self._armed = True
            _monitoring.register_callback(self._tool, _monitoring.events.LINE, self._line_callback)

    def _enable(self, code: CodeType) -> None:
        _monitoring.set_local_events(self._tool, code, _monitoring.events.LINE)
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
        if sched is not None and line_point(sched, code, line) and self._armed:
            self._armed = False
            _monitoring.register_callback(self._tool, _monitoring.events.LINE, None)
