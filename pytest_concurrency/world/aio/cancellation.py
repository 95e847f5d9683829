"""Injected cancellation: "cancel this task now" as one more choice at its await points.

CPython's ``asyncio.Lock``, ``Semaphore`` and ``Condition`` each had
lost-wakeup bugs of one shape: a waiter is woken (its future resolved), then
cancelled before it runs, and the wake-up it was handed dies with it. User-level
locks, pools and caches have the same bugs. With ``inject_cancel=N`` a run may,
at up to N scheduling points, pick "cancel task X" instead of running X's
pending step: X is about to resume from an ``await`` (woken, or yielding), and
``CancelledError`` is thrown into it right there, exactly as if some other task
had called ``X.cancel()`` at that moment.

Which tasks: those suspended at an await (started, not done), once each,
while the loop's main coroutine (the one ``asyncio.run`` runs) is running --
never the main task itself, whose cancellation would only fail the scenario.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from pytest_concurrency.world.aio.actors import Actor, task_of

if TYPE_CHECKING:
    from pytest_concurrency.world.aio.runtime import AioWorld

#: the message of an injected CancelledError, so that a traceback says where it came from
MESSAGE = "cancelled by pytest-concurrency (inject_cancel)"

_run_until_complete_cb: Any = asyncio.base_events._run_until_complete_cb  # type: ignore[attr-defined]


def _is_main(task: asyncio.Task[Any]) -> bool:
    """True for a task some ``run_until_complete`` waits for (``asyncio.run``'s main)."""
    callbacks = getattr(task, "_callbacks", None) or ()
    return any(entry[0] is _run_until_complete_cb for entry in callbacks)


def _suspended_at_await(task: asyncio.Task[Any]) -> bool:
    coro = task.get_coro()
    return inspect.iscoroutine(coro) and (inspect.getcoroutinestate(coro) == inspect.CORO_SUSPENDED)


def options(world: AioWorld, ready: list[tuple[Actor, Any]]) -> list[Actor]:
    """The "cancel X now" actors to offer for these (actor, first ready handle) pairs."""
    if world.cancels_left <= 0:
        return []
    offered = []
    for actor, handle in ready:
        cancel = actor.cancel
        if cancel is None or actor.injected:
            continue
        task = actor.task
        if (
            task is None
            or task_of(handle._callback) is not task
            or task.done()
            or not _suspended_at_await(task)
            or _is_main(task)
        ):
            continue
        offered.append(cancel)
    return offered


def inject(world: AioWorld, cancel: Actor) -> Actor:
    """Cancel the task of a chosen "cancel X now" actor; returns the task's actor."""
    victim = cancel.victim
    assert victim is not None
    task = victim.task
    assert task is not None
    victim.injected = True
    world.cancels_left -= 1
    task.cancel(MESSAGE)
    return victim
