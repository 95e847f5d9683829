"""What an interrupted exploration had done, told on the interrupting exception.

A pytest-timeout (signal method) or a Ctrl-C lands in the exploration loop's
thread while a schedule runs: the run is torn down and the exception goes on
up, as it must. On its way it gets a note with how far the exploration got --
schedules finished, the strategy and seed, and the replay token of the
schedule in progress, whose choices lead to wherever that run was stuck. A
run that hangs somewhere the watchdog cannot see (a busy loop, a blocking
call that is no scheduling point) can then be replayed alone, under a
debugger or with a shorter timeout, instead of exploring again from the start.

pytest-timeout's thread method raises nothing: its timer thread dumps the
stacks and ends the process. :func:`in_progress` gives that thread the same
text, read from the exploration that is running (there is at most one per
process).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from pytest_concurrency.world.scheduler import Scheduler

__all__ = ["InProgress", "in_progress", "interrupted", "live", "note"]

#: the exploration running in this process (there is at most one), for a timeout's thread
_LIVE: InProgress | None = None


class InProgress:
    """How far the running exploration got: schedules finished and the run under way."""

    __slots__ = ("_replay", "finished", "how", "sched", "strategy")

    def __init__(
        self, strategy: str, how: str, replay: Callable[[tuple[int, ...]], tuple[str, str]]
    ) -> None:
        self.strategy = strategy
        #: "seed 3", "preemption bound 2"
        self.how = how
        #: choices -> (replay token, replay command)
        self._replay = replay
        self.finished = 0
        self.sched: Scheduler | None = None

    def begin(self, finished: int) -> None:
        """A new schedule starts, after ``finished`` ones."""
        self.finished = finished
        self.sched = None

    def started(self, sched: Scheduler) -> None:
        self.sched = sched

    def choices(self) -> tuple[int, ...]:
        """The choices the run in progress made so far (none before it started)."""
        return () if self.sched is None else tuple(self.sched.choices)

    def describe(self) -> str:
        token, command = self._replay(self.choices())
        return interrupted(
            finished=self.finished,
            how=self.how,
            strategy=self.strategy,
            token=token,
            command=command,
        )


@contextlib.contextmanager
def live(exploration: InProgress) -> Iterator[None]:
    """Make ``exploration`` the one :func:`in_progress` describes, while it runs."""
    global _LIVE
    _LIVE = exploration
    try:
        yield
    finally:
        _LIVE = None


def in_progress() -> str | None:
    """What the exploration running now has done (from any thread), or None if none runs."""
    exploration = _LIVE
    return None if exploration is None else exploration.describe()


def note(exc: BaseException, text: str) -> None:
    """Add ``text`` to what is printed with ``exc`` (its ``__notes__``), keeping ``exc`` as is."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:  # Python 3.11+
        add_note(text)
        return
    try:  # 3.10: the exceptiongroup backport, which pytest uses there, prints __notes__ too
        exc.__notes__ = [*getattr(exc, "__notes__", ()), text]  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        pass  # an exception type that takes no attributes: it goes on without the note


def interrupted(*, finished: int, how: str, strategy: str, token: str, command: str) -> str:
    """The note for an exploration interrupted after ``finished`` schedules."""
    return (
        f"interleavings: interrupted while running schedule {finished + 1} of an exploration "
        f"with strategy {strategy!r} ({how}), after {finished} finished schedule(s). "
        f"The schedule in progress, up to where it was: replay token {token}; "
        f"replay it with:\n  {command}"
    )
