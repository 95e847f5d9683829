"""Leaked file descriptors: open at the end of a check, not open (to the same thing) at its start.

The open descriptors are read from ``/proc/self/fd`` (Linux) or ``/dev/fd``
(macOS, the BSDs). Listing that directory opens one descriptor of its own,
which is closed again by the time each entry is examined: entries that no
longer resolve are that listing's, and are ignored. On a platform with neither
directory the kind is skipped, with a note in the report rather than an error:
a test suite must not fail because its CI runs on another OS.

Descriptors are compared by number *and* target, so a descriptor the test
closed and reopened to a different file counts as new. Their creation site is
not known: opening a descriptor is not traced.
"""

from __future__ import annotations

import os
import stat
from typing import ClassVar

from pytest_concurrency._patching import Patcher
from pytest_concurrency.leaks.core import Findings, Leak

_FD_DIRS = ("/proc/self/fd", "/dev/fd")
_FILE_TYPES = (
    (stat.S_ISREG, "regular file"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "pipe"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def fd_directory() -> str | None:
    """The directory listing this process's descriptors, or None where there is none."""
    for directory in _FD_DIRS:
        if os.path.isdir(directory):
            return directory
    return None


def _target(directory: str, fd: int) -> str | None:
    """What ``fd`` refers to, or None if it is not open (any more)."""
    try:
        return os.readlink(f"{directory}/{fd}")
    except OSError:
        pass
    try:  # /dev/fd entries are not symlinks on macOS: describe the file type instead
        mode = os.fstat(fd).st_mode
    except OSError:
        return None
    return next((name for test, name in _FILE_TYPES if test(mode)), "unknown file type")


def open_fds(directory: str) -> dict[int, str]:
    """Every open descriptor of this process and what it refers to."""
    names = os.listdir(directory)  # its own descriptor is closed when this returns
    found: dict[int, str] = {}
    for name in names:
        if not name.isdigit():
            continue
        target = _target(directory, int(name))
        if target is not None:
            found[int(name)] = target
    return found


class FdDetector:
    """Descriptors open after the check that were not open, to the same target, before it."""

    kind: ClassVar[str] = "fds"

    def __init__(self) -> None:
        self._directory = fd_directory()
        self._baseline: dict[int, str] = {}

    def start(self, patcher: Patcher) -> None:
        if self._directory is not None:
            self._baseline = open_fds(self._directory)

    def finish(self, deadline: float) -> Findings:
        if self._directory is None:
            return Findings(
                notes=("fds not checked: no /proc/self/fd or /dev/fd on this platform",)
            )
        leaked = sorted(
            (fd, target)
            for fd, target in open_fds(self._directory).items()
            if self._baseline.get(fd) != target
        )
        return Findings(tuple(Leak(self.kind, f"fd {fd} -> {target}") for fd, target in leaked))
