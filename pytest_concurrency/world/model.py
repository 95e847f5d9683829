"""The world's data model: what every other part of the explorer speaks of.

Thread records, the things a blocked thread waits on, a run's failure and the
exceptions that unwind a run live here, in a leaf module that imports nothing
else of the explorer: the scheduler, the strategies, traces and reports all
depend on it, never on each other for these names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, ClassVar, Protocol

from pytest_concurrency import _realtime

if TYPE_CHECKING:
    import threading


class FailureKind(str, Enum):
    """Why a run failed; compares equal to its value (``kind == "deadlock"``)."""

    EXCEPTION = "exception"
    DEADLOCK = "deadlock"
    STEP_BUDGET = "step-budget"
    UNCONTROLLED = "uncontrolled"
    MISMATCH = "mismatch"
    NONDETERMINISTIC = "nondeterministic"
    #: every schedule passed, but two accesses raced (``explore(..., races="error")``)
    RACE = "race"

    def __str__(self) -> str:  # the same text on every Python version
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


@dataclass(frozen=True)
class WaitEdge:
    """One edge of a deadlock's wait-for graph: ``thread`` waits (``op``) on ``resource``.

    ``holder`` is the thread holding the resource ("" when none does: an event
    never set, a queue never filled); ``in_cycle`` marks the edges of the
    wait-for cycle, when there is one.
    """

    thread: str
    op: str
    resource: str
    holder: str = ""
    in_cycle: bool = False


class Abort(BaseException):
    """Unwinds a controlled thread whose run is over (failed, finished or interrupted).

    A BaseException so that the code under test's ``except Exception`` cannot
    swallow it; its ``finally`` blocks still run.
    """


class ScheduleMismatch(Exception):
    """A strategy following a recorded schedule found a different set of enabled threads."""

    def __init__(self, message: str, *, nondeterministic: bool) -> None:
        super().__init__(message)
        self.nondeterministic = nondeterministic


class Waitable(Protocol):
    """What a blocked thread waits on: named, and possibly held by some thread."""

    def label(self) -> str: ...

    def holder(self) -> ThreadRecord | None: ...


class Strategy(Protocol):
    """Picks the next thread at a point where more than one thread is enabled."""

    def thread_created(self, index: int) -> None: ...

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord: ...

    def choose_step(self, enabled: list[ThreadRecord], default: ThreadRecord) -> ThreadRecord: ...


class EventObserver(Protocol):
    """Told of every event -- one thread running from one point to its next (see .dpor)."""

    def observe(self, chosen: ThreadRecord, enabled: list[ThreadRecord]) -> None: ...

    def access(self, resource: object, mode: str | None) -> None: ...

    def touch(self, memory: object) -> None: ...

    def finished(self, record: ThreadRecord) -> None: ...

    def mark(self) -> int:
        """The running event, to name it later in :meth:`after` (-1: none yet)."""
        ...

    def after(self, mark: int) -> None:
        """The running event happens after the event ``mark`` (it was handed work by it)."""
        ...


class Carried(Protocol):
    """A thread's hand-over to a pooled OS thread (see .workers)."""

    def taken(self) -> bool: ...


class LineHook(Protocol):
    """Line-level preemption (:mod:`.lines`): told whenever the scheduler looks at who can run."""

    def rearm(self) -> None: ...


class RunFailure:
    """Why one run failed, before it is turned into a public exception by the report."""

    __slots__ = ("cause", "details", "kind", "summary", "thread", "wait_for")

    def __init__(
        self,
        kind: str | FailureKind,
        summary: str,
        *,
        cause: BaseException | None = None,
        details: str = "",
        thread: str = "",
        wait_for: tuple[WaitEdge, ...] = (),
    ) -> None:
        #: one of :class:`FailureKind` (a plain string is checked and converted)
        self.kind = FailureKind(kind)
        self.summary = summary
        self.cause = cause
        self.details = details
        self.thread = thread
        #: a deadlock's wait-for graph, as records (the report draws it)
        self.wait_for = wait_for

    def same_as(self, other: RunFailure) -> bool:
        """True when a replay failed the same way (kind and exception type)."""
        return self.kind == other.kind and type(self.cause) is type(other.cause)


class ThreadRecord:
    """The scheduler's view of one controlled thread.

    Strategies choose among records by ``index``. Other actors a strategy
    chooses among -- the asyncio tasks of a controlled event loop, see
    :mod:`.aio` -- are records too, with indexes from the same numbering
    (:meth:`Scheduler.new_index`), but they are never in ``records``: the
    thread running their loop acts for them.
    """

    __slots__ = (
        "acting_for",
        "blocked",
        "carrier",
        "daemon",
        "deadline",
        "exited",
        "finished",
        "gone",
        "ident",
        "index",
        "name",
        "park",
        "pending",
        "ready",
        "thread",
        "waiting_on",
        "waiting_op",
    )

    #: an actor a thread acts for (an asyncio task), not an OS thread of its own
    is_actor: ClassVar[bool] = False

    def __init__(self, index: int, thread: threading.Thread, name: str, daemon: bool) -> None:
        self.index = index
        self.thread = thread
        self.name = name
        self.daemon = daemon
        self.ident: int | None = None
        #: the pooled OS thread's job carrying this thread (see .workers), None on a fresh one
        self.carrier: Carried | None = None
        #: locked while the thread may not run; releasing it hands the thread the baton
        self.park = _realtime.allocate_lock()
        self.park.acquire()
        #: released by the thread itself as its very last controlled action
        self.exited = _realtime.allocate_lock()
        self.exited.acquire()
        #: set by the thread just before it releases ``exited``: whoever waits for the
        #: thread checks it first, so waiting again (after an interrupt) never blocks
        self.gone = False
        self.finished = False
        self.blocked = False
        self.ready: Callable[[], bool] | None = None
        self.deadline: float | None = None
        self.waiting_on: Waitable | None = None
        self.waiting_op = ""
        #: (op, resource) of the point this thread runs from next; kept for an event observer
        self.pending: tuple[str, object] | None = ("begin", self)
        #: the actor whose step this thread is running (an asyncio task, see :mod:`.aio`)
        self.acting_for: ThreadRecord | None = None

    # a thread is itself a Waitable: join() waits on it, and it "holds" its own end
    def label(self) -> str:
        return self.name

    def holder(self) -> ThreadRecord | None:
        return None if self.finished else self

    def is_finished(self) -> bool:
        return self.finished

    def __repr__(self) -> str:
        return f"<ThreadRecord {self.name}>"
