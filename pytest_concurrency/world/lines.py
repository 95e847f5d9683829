"""Line-level preemption: every line run in traced code is also a scheduling point.

At sync-point granularity plain Python between two synchronisation operations
is atomic, so a race with no lock at all -- a check-then-set on a dict, a
read-modify-write through a property -- is invisible. ``explore(...,
granularity="line")`` makes each line executed in the traced code (see
:mod:`.selection`) a ``"line"`` scheduling point of the thread holding the
baton, handled by the scheduler like any other point.

Two backends deliver the line events: ``sys.monitoring`` on Python 3.12+
(:mod:`.monitoring`: LINE events switched on only for the traced code objects,
so nothing else pays) and per-thread ``sys.settrace`` functions on 3.10 and 3.11
(:mod:`.settrace`, installed on controlled threads only, chained to coverage's
tracer). Line events differ between Python versions, so a line-level replay
token records the version it was made on.

A :class:`LineTracing` lives for one exploration (the tracer is installed once);
each run attaches its scheduler to it.
"""

from __future__ import annotations

import linecache
import sys
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Protocol

from pytest_concurrency import _realtime
from pytest_concurrency.world.trace import short_path

if TYPE_CHECKING:
    from pytest_concurrency._patching import Patcher
    from pytest_concurrency.world.scheduler import Scheduler
    from pytest_concurrency.world.selection import TraceSelection

_get_ident = _realtime.get_ident

#: names accepted by ``explore(granularity=...)``
GRANULARITIES = ("sync", "line")
#: names of the line-event backends (the default depends on the Python version)
BACKENDS = ("monitoring", "settrace")
#: source text of a line point shown in a trace, at most
_TEXT_WIDTH = 48


def default_backend() -> str:
    """``sys.monitoring`` where it exists (3.12+), else ``sys.settrace``."""
    return "monitoring" if sys.version_info >= (3, 12) else "settrace"


def python_version() -> tuple[int, int]:
    """The (major, minor) a line-level token is tied to: line events differ between them."""
    return sys.version_info[0], sys.version_info[1]


def line_point(sched: Scheduler, code: CodeType, line: int) -> bool:
    """Make this line of ``code`` a scheduling point if the calling thread holds the baton.

    Nothing happens in other threads (uncontrolled ones, or controlled ones
    being unwound once the run is over), nor on a function's first line
    (``co_firstlineno``: a lambda, a one-line ``def``, a generator expression):
    Python 3.13 reports that line only on the call during which line events were
    switched on for the code, so counting it would make the first run of an
    exploration differ from the others. Lines there are atomic, everywhere.

    Returns True when the caller was the only thread that could run: no choice
    was possible, and none will be until the scheduler next looks at who can
    run (which calls the backend's ``rearm``), so the backend stops making
    points of lines until then. Lines run alone are thus neither choices nor
    steps, whichever the backend.
    """
    me = sched.current
    if me is None or me.ident != _get_ident() or sched.over or line == code.co_firstlineno:
        return False
    before = len(sched.choices)
    sched.point("line", None if sched.tracer is None else line_text(code.co_filename, line))
    return len(sched.choices) == before


def line_text(filename: str, line: int) -> str:
    """What a trace shows for a line point: its source (its ``file:line`` is shown anyway)."""
    text = linecache.getline(filename, line).strip()
    if not text:
        return f"{short_path(filename)}:{line}"
    return text if len(text) <= _TEXT_WIDTH else text[: _TEXT_WIDTH - 3] + "..."


class LineBackend(Protocol):
    """Delivers line events of traced code to :func:`line_point`."""

    def start(self) -> None:
        """Install for an exploration."""

    def stop(self) -> None:
        """Uninstall; the process is as before :meth:`start`."""

    def attach(self, sched: Scheduler, patcher: Patcher) -> None:
        """Deliver this run's events to ``sched`` (undone by ``patcher``)."""

    def rearm(self) -> None:
        """Make points of lines again: who can run may change (the scheduler's line hook)."""


class LineTracing:
    """Line-level scheduling points for one exploration: a context manager around its runs."""

    def __init__(self, selection: TraceSelection, backend: str | None = None) -> None:
        name = default_backend() if backend is None else backend
        if name not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
        if name == "monitoring" and sys.version_info < (3, 12):
            raise ValueError("the 'monitoring' backend needs Python 3.12+ (sys.monitoring)")
        self.selection = selection
        self.backend_name = name
        self._backend: LineBackend
        if name == "monitoring":
            from pytest_concurrency.world.monitoring import MonitoringBackend

            self._backend = MonitoringBackend(selection)
        else:
            from pytest_concurrency.world.settrace import SettraceBackend

            self._backend = SettraceBackend(selection)

    def __enter__(self) -> LineTracing:
        self._backend.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._backend.stop()

    def attach(self, sched: Scheduler, patcher: Patcher) -> None:
        """Make the lines of this run's controlled threads scheduling points of ``sched``."""
        self._backend.attach(sched, patcher)

    def __repr__(self) -> str:
        return f"<LineTracing {self.backend_name} {self.selection!r}>"
