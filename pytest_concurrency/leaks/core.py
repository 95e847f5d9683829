"""The types every leak kind shares: a leaked object, a detector, a report.

A detector takes a baseline when a check starts and, when it finishes, returns
what exists now that did not exist then (its :class:`Findings`). The checker
collects every detector's findings into one :class:`LeakReport`, so a thread,
an fd and a grown lock map read the same way in a failing test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from pytest_concurrency._patching import Patcher
from pytest_concurrency.leaks.stacks import Frame, creation_site

#: kind -> (singular, plural) used when a report counts its leaks
_NOUNS: dict[str, tuple[str, str]] = {
    "threads": ("thread", "threads"),
    "fds": ("fd", "fds"),
    "processes": ("process", "processes"),
    "tasks": ("task", "tasks"),
    "tempfiles": ("temp file", "temp files"),
    "registries": ("registry", "registries"),
}

#: the kinds whose check waits for the grace period
_WAITING_KINDS = frozenset({"threads", "processes"})


def count_of(kind: str, count: int) -> str:
    """``"1 thread"``, ``"2 temp files"``."""
    singular, plural = _NOUNS.get(kind, (kind, kind))
    return f"{count} {singular if count == 1 else plural}"


@dataclass(frozen=True)
class Leak:
    """One object that outlived the check.

    ``kind`` is the leak kind that found it (``"threads"``, ``"fds"``, ...,
    ``"registries"``); ``description`` says what it is in one line;
    ``stack`` is where it was created, innermost frame first, when that was
    recorded (threads and temp files started during the check, tasks of a
    loop in debug mode), else empty.
    """

    kind: str
    description: str
    stack: tuple[Frame, ...] = ()

    @property
    def site(self) -> Frame | None:
        """The creation line to blame (the innermost frame outside the stdlib), if known."""
        return creation_site(self.stack)

    def format(self) -> str:
        """The description, then the creation site and stack, indented."""
        lines = [f"- {self.description}"]
        site = self.site
        if site is None:
            return lines[0]
        lines.append(f"    created at {site.location()}")
        if site.source():
            lines.append(f"        {site.source()}")
        if len(self.stack) > 1:
            lines.append("    creation stack, innermost first:")
            lines.extend(f"      {frame.location()}" for frame in self.stack)
        return "\n".join(lines)


@dataclass(frozen=True)
class Findings:
    """What one detector found: its leaks, and notes such as "not supported here"."""

    leaks: tuple[Leak, ...] = ()
    notes: tuple[str, ...] = ()


class Detector(Protocol):
    """One leak kind: a baseline at :meth:`start`, a comparison at :meth:`finish`.

    ``start`` installs any recording hooks through the checker's ``patcher``
    (the checker restores them, whatever happens). ``finish`` may wait until
    ``deadline`` (a :func:`pytest_concurrency._realtime.monotonic` instant) for
    objects that are on their way out, and never longer.
    """

    kind: ClassVar[str]

    def start(self, patcher: Patcher) -> None: ...

    def finish(self, deadline: float) -> Findings: ...


@dataclass(frozen=True)
class LeakReport:
    """Everything a check found; true when something leaked.

    ``leaks`` holds the leaked objects in kind order; ``kinds`` the kinds that
    were checked; ``notes`` anything the reader should know about the check
    itself (for example a kind this platform cannot observe); ``grace`` the
    seconds the check waited for finishing threads and processes.
    """

    leaks: tuple[Leak, ...] = ()
    kinds: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    grace: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.leaks)

    def by_kind(self, kind: str) -> tuple[Leak, ...]:
        """The leaks that the given kind found."""
        return tuple(leak for leak in self.leaks if leak.kind == kind)

    def summary(self) -> str:
        """One line: ``"leaked 1 thread, 2 fds"`` or ``"no leaks"``."""
        if not self.leaks:
            return "no leaks"
        kinds = list(dict.fromkeys(leak.kind for leak in self.leaks))
        return "leaked " + ", ".join(count_of(kind, len(self.by_kind(kind))) for kind in kinds)

    def format(self) -> str:
        """The readable report: a summary line, then each leaked object with its creation site."""
        checked = f"checked: {', '.join(self.kinds) if self.kinds else 'nothing'}"
        if _WAITING_KINDS.intersection(self.kinds):
            checked += f"; grace {self.grace:.2f} s"
        lines = [f"{self.summary()} ({checked})"]
        lines.extend(leak.format() for leak in self.leaks)
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)
