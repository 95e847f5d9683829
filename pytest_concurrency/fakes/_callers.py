"""Who is blocked at a gate: thread, task and the user's line that called the fake.

Captured only when a caller has to wait, so an open gate costs no stack walk.
The interesting frame is the first one in the *user's* code, by the rule every
report shares (:mod:`pytest_concurrency._callsite`): frames of this package and
of relaying standard-library modules say nothing about which test line is stuck.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from dataclasses import dataclass
from types import FrameType

from pytest_concurrency import _callsite

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@dataclass(frozen=True)
class BlockedCaller:
    """A caller that was waiting at a gate, as teardown reports it."""

    thread_name: str
    filename: str
    lineno: int
    task_name: str | None = None

    def location(self, root: str | os.PathLike[str] | None = None) -> str:
        """``file:line``, relative to ``root`` when the file lies inside it."""
        filename = self.filename
        if root is not None and os.path.isabs(filename):
            base = os.path.abspath(root)
            try:
                if os.path.commonpath([base, filename]) == base:
                    filename = os.path.relpath(filename, base)
            except ValueError:  # different drives on Windows: keep it absolute
                pass
        return f"{filename}:{self.lineno}"

    def describe(self, root: str | os.PathLike[str] | None = None) -> str:
        """E.g. ``Thread-3 called from tests/test_cache.py:12``."""
        who = self.thread_name
        if self.task_name is not None:
            who += f" (task {self.task_name})"
        return f"{who} called from {self.location(root)}"


def _calling_frame(frame: FrameType | None) -> FrameType | None:
    """The first user frame outwards; else the frame that called into this package."""
    stack = []
    while frame is not None:
        if not _callsite.is_internal(frame.f_code.co_filename):
            return frame
        stack.append(frame)
        frame = frame.f_back
    inside = [i for i, each in enumerate(stack) if each.f_code.co_filename.startswith(_PACKAGE_DIR)]
    if inside and inside[-1] + 1 < len(stack):
        return stack[inside[-1] + 1]  # e.g. threading's run() when the fake is the target
    return stack[-1] if stack else None


def capture_caller() -> BlockedCaller:
    """Describe the current thread (and task) and the user frame calling into us."""
    chosen = _calling_frame(sys._getframe(1))
    task_name = None
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        task = None
    if task is not None:
        task_name = task.get_name()
    return BlockedCaller(
        thread_name=threading.current_thread().name,
        filename=chosen.f_code.co_filename if chosen else "<unknown>",
        lineno=_callsite.frame_line(chosen) if chosen else 0,
        task_name=task_name,
    )
