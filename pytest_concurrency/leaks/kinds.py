"""The leak kinds a checker can look for, and the parsing of their names.

One table maps each kind's name to its detector: it is the single source of
the valid names, of their order (threads first, so that a thread finishing
within the grace period can still close its fds, reap its children and remove
its temp files before those are compared), and of what ``"all"`` means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pytest_concurrency.leaks.core import Detector
from pytest_concurrency.leaks.fds import FdDetector
from pytest_concurrency.leaks.processes import ProcessDetector
from pytest_concurrency.leaks.tasks import TaskDetector
from pytest_concurrency.leaks.tempfiles import TempfileDetector
from pytest_concurrency.leaks.threads import ThreadDetector

_DETECTORS: dict[str, Callable[[], Detector]] = {
    ThreadDetector.kind: ThreadDetector,
    FdDetector.kind: FdDetector,
    ProcessDetector.kind: ProcessDetector,
    TaskDetector.kind: TaskDetector,
    TempfileDetector.kind: TempfileDetector,
}

#: every kind, in checking order
KINDS: tuple[str, ...] = tuple(_DETECTORS)
#: the name that stands for every kind
ALL = "all"


def _valid() -> str:
    return ", ".join(KINDS) + f" (or {ALL!r})"


def parse_kinds(kinds: str | Iterable[str]) -> tuple[str, ...]:
    """Validate leak kind names; return them once each, in checking order.

    ``kinds`` is a comma-separated string (``"threads, fds"``) or an iterable
    of names; ``"all"`` means every kind; empty means none. An unknown name is
    a :class:`ValueError` that lists the valid kinds.
    """
    if isinstance(kinds, str):
        names = [name.strip() for name in kinds.split(",")]
    else:
        names = []
        for name in kinds:
            if not isinstance(name, str):
                raise TypeError(f"leak kinds must be strings, got {type(name).__name__}: {name!r}")
            names.append(name.strip())
    wanted: set[str] = set()
    for name in filter(None, names):
        if name == ALL:
            wanted.update(KINDS)
        elif name in _DETECTORS:
            wanted.add(name)
        else:
            raise ValueError(f"unknown leak kind {name!r}; valid kinds: {_valid()}")
    return tuple(kind for kind in KINDS if kind in wanted)


def detector_for(kind: str) -> Detector:
    """A fresh detector for one (already parsed) kind."""
    return _DETECTORS[kind]()
