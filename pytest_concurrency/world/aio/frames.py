"""Where a suspended asyncio task is and what it awaits, for traces and deadlock reports.

A task's coroutine awaits another coroutine, which awaits another, ... down to
a future: the ``cr_await`` chain (``ag_await`` through async generators,
``gi_yieldfrom`` through generator-based awaitables). Its frames are the
task's "stack" -- a suspended coroutine's frame has no ``f_back``, so the
thread-stack helpers cannot walk it. The *location* of a task is the innermost
frame of user code in that chain (the line of the ``await`` it is suspended
at); *what it awaits* is the innermost asyncio call below it
(``asyncio.Lock.acquire``), or the future itself when user code awaits one
directly.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from types import FrameType
from typing import Any

from pytest_concurrency import _callsite
from pytest_concurrency.world.trace import is_internal, short_path

#: a chain deeper than this is cut (a recursive awaitable must not hang a report)
_MAX_DEPTH = 200


def _frame_of(node: object) -> FrameType | None:
    for attribute in ("cr_frame", "ag_frame", "gi_frame"):
        frame = getattr(node, attribute, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited_by(node: object) -> object:
    for attribute in ("cr_await", "ag_await", "gi_yieldfrom"):
        inner = getattr(node, attribute, None)
        if inner is not None:
            return inner
    return None


def await_frames(coro: object) -> list[FrameType]:
    """The frames of a coroutine and of everything it awaits, outermost first."""
    frames: list[FrameType] = []
    node = coro
    while node is not None and len(frames) < _MAX_DEPTH:
        frame = _frame_of(node)
        if frame is None:
            break
        frames.append(frame)
        node = _awaited_by(node)
    return frames


def frame_name(frame: FrameType) -> str:
    """The qualified name of a frame's function: ``Lock.acquire``.

    3.10 code objects have no ``co_qualname``; a method's class comes from its ``self``.
    """
    code = frame.f_code
    qualified = getattr(code, "co_qualname", None)
    if qualified is not None:
        return str(qualified)
    owner = frame.f_locals.get("self") if code.co_argcount else None
    return f"{type(owner).__name__}.{code.co_name}" if owner is not None else code.co_name


def location(frame: FrameType) -> str:
    return _callsite.location(frame)


def user_location(frames: list[FrameType]) -> str:
    """``file:line`` of the innermost user frame of a chain ("" when there is none)."""
    for frame in reversed(frames):
        if not is_internal(frame.f_code.co_filename):
            return location(frame)
    return ""


def awaited_call(frames: list[FrameType]) -> str:
    """The library call the chain is suspended in (``asyncio.Lock.acquire``), or "".

    The innermost public one: ``asyncio.sleep``, not its helper ``__sleep0``.
    "" when the innermost frame is user code: it awaits a future directly.
    """
    if not frames or not is_internal(frames[-1].f_code.co_filename):
        return ""
    chosen = frames[-1]
    for frame in reversed(frames):
        if not is_internal(frame.f_code.co_filename):
            break
        if not frame.f_code.co_name.startswith("_"):
            chosen = frame
            break
    module = chosen.f_globals.get("__name__", "")
    package = module.split(".")[0] if isinstance(module, str) else ""
    name = frame_name(chosen)
    return f"{package}.{name}" if package == "asyncio" else name


def describe_future(future: object, name_of: Callable[[object], str | None]) -> str:
    """A future as a person reads it: a task's name, ``gather(...)``, or its type."""
    if future is None:
        return ""
    named = name_of(future)
    if named is not None:
        return named
    children: Any = getattr(future, "_children", None)
    if isinstance(children, list):
        names = [name_of(child) or type(child).__name__ for child in children]
        return f"gather({', '.join(names)})"
    return f"a {type(future).__name__}"


def format_chain(frames: list[FrameType], indent: str) -> list[str]:
    """The user frames of a chain, outermost first, as traceback-like lines."""
    lines = []
    for frame in frames:
        filename = frame.f_code.co_filename
        if is_internal(filename):
            continue
        line = _callsite.frame_line(frame)
        lines.append(f'{indent}File "{short_path(filename)}", line {line}, in {frame_name(frame)}')
        source = linecache.getline(filename, line).strip()
        if source:
            lines.append(f"{indent}  {source}")
    return lines
