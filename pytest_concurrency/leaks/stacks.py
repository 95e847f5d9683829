"""Where a leaked object came from: a few caller frames, captured cheaply.

A leak report is only actionable when it says *which line* created the thread
or the temp file. Capturing is done on every ``Thread.start`` (and every temp
file) while a check runs, so it walks raw frames and keeps file, line and
function only; source lines are read from ``linecache`` when a report is
formatted, never at capture time.

Frames inside the machinery that merely *relays* the creation (``threading``,
``tempfile``, this package's own wrappers: the rule every report shares, in
:mod:`pytest_concurrency._callsite`) are skipped, and the walk stops at
pytest's and pluggy's frames: everything above them is the test runner, not
the code under test.
"""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
from collections.abc import Iterable
from functools import cache
from types import FrameType
from typing import NamedTuple

from pytest_concurrency import _callsite, _harness

#: how many frames a creation stack keeps (innermost first)
STACK_LIMIT = 6

#: the test runner: the creation stack ends where these frames begin
_RUNNER_PACKAGES = _harness.RUNNER_PACKAGES


def in_packages(module: str, packages: Iterable[str]) -> bool:
    """True if ``module`` is one of ``packages`` or a submodule of one."""
    return any(module == package or module.startswith(package + ".") for package in packages)


class Frame(NamedTuple):
    """One frame of a creation stack: enough to point at a line of code."""

    filename: str
    lineno: int
    function: str

    def location(self) -> str:
        """``path:line in function``, the path relative to the working directory when inside it."""
        return f"{_callsite.short_path(self.filename)}:{self.lineno} in {self.function}"

    def source(self) -> str:
        """The stripped source line, or ``""`` when the file cannot be read."""
        return linecache.getline(self.filename, self.lineno).strip()


def frames_from(frame: FrameType | None, limit: int = STACK_LIMIT) -> tuple[Frame, ...]:
    """Up to ``limit`` frames from ``frame`` outwards, without relays, stopping at the runner."""
    frames: list[Frame] = []
    while frame is not None and len(frames) < limit:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            module = ""
        if in_packages(module, _RUNNER_PACKAGES):
            break
        code = frame.f_code
        if not _callsite.is_internal(code.co_filename):
            frames.append(Frame(code.co_filename, _callsite.frame_line(frame), code.co_name))
        frame = frame.f_back
    return tuple(frames)


def capture(limit: int = STACK_LIMIT) -> tuple[Frame, ...]:
    """The caller's creation stack, innermost first (see :func:`frames_from`)."""
    return frames_from(sys._getframe(1), limit)


def running_modules(frame: FrameType | None) -> set[str]:
    """The module names of every frame from ``frame`` outwards (what a thread is running)."""
    modules: set[str] = set()
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if isinstance(module, str):
            modules.add(module)
        frame = frame.f_back
    return modules


def creation_site(stack: tuple[Frame, ...]) -> Frame | None:
    """The frame to blame: the innermost one outside the standard library.

    A thread started by ``ThreadPoolExecutor.submit`` is created inside
    ``concurrent.futures``; the line worth reporting is the caller's.
    """
    for frame in stack:
        if not _in_stdlib(frame.filename):
            return frame
    return stack[0] if stack else None


@cache
def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {os.path.normcase(os.path.abspath(paths[key])) for key in ("stdlib", "platstdlib")}
    return tuple(directory + os.sep for directory in dirs)


def _in_stdlib(filename: str) -> bool:
    normalized = os.path.normcase(os.path.abspath(filename))
    if "site-packages" in normalized or "dist-packages" in normalized:
        return False
    return normalized.startswith(_stdlib_dirs())
