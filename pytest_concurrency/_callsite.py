"""One rule for "which line is the user's", shared by every report that names a line.

Reports point at code: where a blocked caller called a gated fake, where a
thread waits on the fake clock, where a leaked thread was created, which line of
a scenario took a lock. The frames in between -- this package's own, and the
standard-library modules that merely relay a call (``threading``, ``queue``,
``concurrent.futures``, ``asyncio``, ``selectors``, ``tempfile``,
``contextlib``) -- say nothing about the code under test, so every feature
skips the same ones. The ``pytest_concurrency.demo`` package plays the user's
part in the demonstrations and is never skipped.

Only string prefix tests run per frame (no ``abspath``): code objects of
imported modules carry absolute file names already.
"""

from __future__ import annotations

import os
import sys
import threading
from types import CodeType, FrameType

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_DEMO_DIR = os.path.join(_PACKAGE_DIR, "demo") + os.sep
_STDLIB_DIR = os.path.dirname(os.path.abspath(threading.__file__)) + os.sep
#: standard-library files and folders whose frames only relay a call
_RELAYS = tuple(
    os.path.join(_STDLIB_DIR, name)
    for name in (
        "threading.py",
        "queue.py",
        "selectors.py",
        "tempfile.py",
        "contextlib.py",
        "asyncio" + os.sep,
        "concurrent" + os.sep,
    )
)


def is_internal(filename: str) -> bool:
    """True for frames of the harness or of relaying standard-library machinery."""
    if filename.startswith(_PACKAGE_DIR):
        return not filename.startswith(_DEMO_DIR)
    return filename.startswith(_RELAYS) or filename.startswith("<frozen ")


def user_frame(frame: FrameType | None) -> FrameType | None:
    """The first frame from ``frame`` outwards that is the user's, or None."""
    while frame is not None and is_internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def short_path(filename: str) -> str:
    """``filename`` relative to the working directory when it lies inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if relative.startswith(os.pardir) else relative


def code_line(code: CodeType, offset: int) -> int:
    """The line of the instruction at ``offset`` in ``code``, never None.

    Some instructions belong to no line (exception-handling cleanup, a
    generator's first instruction, an inlined comprehension's stack shuffle):
    they get the line of the nearest instruction before them that has one, or
    the function's first line when none does.
    """
    found = code.co_firstlineno
    for start, _end, line in code.co_lines():
        if start > offset:
            break
        if line is not None:
            found = line
    return found


def frame_line(frame: FrameType) -> int:
    """The line ``frame`` is running, never None (``f_lineno`` is None on a line-less one)."""
    line = frame.f_lineno
    return line if line is not None else code_line(frame.f_code, frame.f_lasti)


def location(frame: FrameType) -> str:
    """``path:line`` of ``frame``, the path shortened as :func:`short_path` does."""
    return f"{short_path(frame.f_code.co_filename)}:{frame_line(frame)}"


def call_site(depth: int = 1) -> str:
    """``path:line`` of the user's code calling the function ``depth`` frames up.

    Falls back to the innermost frame when no frame is the user's (a harness
    thread), so a report always names some line.
    """
    start = sys._getframe(depth + 1)
    chosen = user_frame(start) or start
    return location(chosen)
