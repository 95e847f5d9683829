"""What an interrupted exploration had done, told on the interrupting exception.

A pytest-timeout (signal method) or a Ctrl-C lands in the exploration loop's
thread while a schedule runs: the run is torn down and the exception goes on
up, as it must. On its way it gets a note with how far the exploration got --
schedules finished, the strategy and seed, and the replay token of the
schedule in progress, whose choices lead to wherever that run was stuck. A
run that hangs somewhere the watchdog cannot see (a busy loop, a blocking
call that is no scheduling point) can then be replayed alone, under a
debugger or with a shorter timeout, instead of exploring again from the start.
"""

from __future__ import annotations

from pytest_concurrency.world.scheduler import Scheduler

__all__ = ["InProgress", "interrupted", "note"]


class InProgress:
    """The schedule the exploration loop is running (its scheduler, once the run started)."""

    __slots__ = ("sched",)

    def __init__(self) -> None:
        self.sched: Scheduler | None = None

    def started(self, sched: Scheduler) -> None:
        self.sched = sched

    def choices(self) -> tuple[int, ...]:
        """The choices the run in progress made so far (none before it started)."""
        return () if self.sched is None else tuple(self.sched.choices)


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
