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

``granularity="opcode"`` goes one step further, for a read-modify-write that
fits on one line (``self.value += 1`` on a plain attribute): every bytecode
instruction run in the traced code is an ``"opcode"`` point. The same backends
deliver it, listening to another event (:data:`EVENT_KINDS`): INSTRUCTION
instead of LINE under ``sys.monitoring``, ``"opcode"`` instead of ``"line"``
events (``frame.f_trace_opcodes``) under ``sys.settrace``. Bytecode differs
between Python versions even more than line events do, so an opcode token is
version-tagged too.

A :class:`LineTracing` lives for one exploration (the tracer is installed once);
each run attaches its scheduler to it.
"""

from __future__ import annotations

import dis
import linecache
import sys
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Protocol

from pytest_concurrency import _realtime
from pytest_concurrency.world import token
from pytest_concurrency.world.trace import short_path

if TYPE_CHECKING:
    from pytest_concurrency._patching import Patcher
    from pytest_concurrency.world.scheduler import Scheduler
    from pytest_concurrency.world.selection import TraceSelection

_get_ident = _realtime.get_ident

#: names accepted by ``explore(granularity=...)``: the ones a token can record
GRANULARITIES = token.GRANULARITIES
#: the granularities below sync: the event kind whose every occurrence is a point
#: (at "memory", every instruction is looked at and those touching memory are points)
EVENT_KINDS = ("line", "opcode", "memory")
#: names of the line-event backends (the default depends on the Python version)
BACKENDS = ("monitoring", "settrace")
#: source text of a line point shown in a trace, at most
_TEXT_WIDTH = 48


def default_backend() -> str:
    """``sys.monitoring`` where it exists (3.12+), else ``sys.settrace``."""
    return "monitoring" if sys.version_info >= (3, 12) else "settrace"


def python_version() -> tuple[int, int]:
    """The (major, minor) a line or opcode token is tied to: their events differ between them."""
    return sys.version_info[0], sys.version_info[1]


def line_point(
    sched: Scheduler, code: CodeType, line: int | None, offset: int | None = None
) -> bool:
    """Make this line of ``code`` -- or, given its ``offset``, this instruction -- a point.

    Only a point of the calling thread holding the baton: nothing happens in
    other threads (uncontrolled ones, or controlled ones being unwound once the
    run is over), nor on a function's first line (``co_firstlineno``: a
    lambda, a one-line ``def``, a generator expression): Python 3.13 reports
    that line (and the instructions on it, ``RESUME`` among them) only on the
    call during which events were switched on for the code, so counting it
    would make the first run of an exploration differ from the others. Code
    there is atomic, everywhere.

    Nor is an instruction that belongs to no line (``line`` None: the
    exception-handling cleanup of ``try`` and ``with``, a generator's first
    instruction, an inlined comprehension's stack shuffle -- which ones depends
    on the Python version): it touches no state of the user's, has no source to
    show, and some of those instructions run before events are switched on for
    their code, just like a first line's. It runs atomically with the
    instruction before it, whichever the backend.

    Returns True when the caller was the only thread that could run: no choice
    was possible, and none will be until the scheduler next looks at who can
    run (which calls the backend's ``rearm``), so the backend stops making
    points until then. Lines (instructions) run alone are thus neither choices
    nor steps, whichever the backend.
    """
    me = sched.current
    if line is None or line == code.co_firstlineno:
        return False
    if me is None or me.ident != _get_ident() or sched.over or me.blocked:
        return False  # blocked: a finalizer run inside the scheduler, not the thread's step
    before = len(sched.choices)
    if offset is None:
        sched.point("line", None if sched.tracer is None else line_text(code.co_filename, line))
    else:
        sched.point("opcode", None if sched.tracer is None else opcode_text(code, line, offset))
    return len(sched.choices) == before


def line_text(filename: str, line: int) -> str:
    """What a trace shows for a line point: its source (its ``file:line`` is shown anyway)."""
    text = linecache.getline(filename, line).strip()
    if not text:
        return f"{short_path(filename)}:{line}"
    return text if len(text) <= _TEXT_WIDTH else text[: _TEXT_WIDTH - 3] + "..."


def opcode_text(code: CodeType, line: int, offset: int) -> str:
    """What a trace shows for an opcode point: the instruction's name, then its line's source."""
    raw = code.co_code  # the unspecialised, uninstrumented bytecode
    name = dis.opname[raw[offset]] if 0 <= offset < len(raw) else f"offset {offset}"
    return f"{name}: {line_text(code.co_filename, line)}"


class LineBackend(Protocol):
    """Delivers line (or instruction) events of traced code to :func:`line_point`."""

    def start(self) -> None:
        """Install for an exploration."""

    def stop(self) -> None:
        """Uninstall; the process is as before :meth:`start`."""

    def attach(self, sched: Scheduler, patcher: Patcher) -> None:
        """Deliver this run's events to ``sched`` (undone by ``patcher``)."""

    def rearm(self) -> None:
        """Make points of lines again: who can run may change (the scheduler's line hook)."""


class LineTracing:
    """Line (or opcode) scheduling points for one exploration: a context manager around its runs.

    ``kind`` is the event every occurrence of which is a point: ``"line"`` or ``"opcode"``.
    """

    def __init__(
        self, selection: TraceSelection, backend: str | None = None, kind: str = "line"
    ) -> None:
        name = default_backend() if backend is None else backend
        if name not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
        if kind not in EVENT_KINDS:
            raise ValueError(f"kind must be one of {EVENT_KINDS}, got {kind!r}")
        if name == "monitoring" and sys.version_info < (3, 12):
            raise ValueError("the 'monitoring' backend needs Python 3.12+ (sys.monitoring)")
        self.selection = selection
        self.backend_name = name
        #: the granularity: "line" or "opcode"
        self.kind = kind
        self._backend: LineBackend
        if name == "monitoring":
            from pytest_concurrency.world.monitoring import MonitoringBackend

            self._backend = MonitoringBackend(selection, kind)
        else:
            from pytest_concurrency.world.settrace import SettraceBackend

            self._backend = SettraceBackend(selection, kind)

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
        """Make the lines (instructions) of this run's controlled threads points of ``sched``."""
        self._backend.attach(sched, patcher)

    def __repr__(self) -> str:
        return f"<LineTracing {self.kind} {self.backend_name} {self.selection!r}>"
