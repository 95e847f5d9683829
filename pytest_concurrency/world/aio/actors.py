"""Which actor a ready callback belongs to: the task it steps, or whoever scheduled it.

The strategy chooses among *actors*: scheduler records whose indexes come from
the run's one numbering (threads and actors alike, in creation order), so the
existing strategies, their priorities (pct) and preemption counts (dfs), and
the replay token all work unchanged:

- every task of a loop is an actor, created the first time the loop sees it
  (a new task schedules its first step at once, so that is creation order);
- with cancellation injection on, every task also has a "cancel it now" actor;
- a loop has one actor of its own for callbacks nobody else owns (scheduled by
  another thread, or by plain code outside any task).

A callback that steps or wakes a task belongs to that task. Any other callback
belongs to whoever was running when it was scheduled: a done-callback that a
task's step scheduled is that task's continuation. One actor's ready callbacks
run in FIFO order among themselves; the strategy interleaves the actors.

Actors hold their tasks strongly. asyncio itself keeps only weak references,
so a pending task that nothing else references (a fire-and-forget task waiting
on an event only it can reach) vanishes whenever the garbage collector runs --
at a moment that differs from run to run, which would make schedules
irreproducible. In a run, a loop's tasks live as long as the loop.
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import TYPE_CHECKING, Any, cast

from pytest_concurrency.world.scheduler import ThreadRecord

if TYPE_CHECKING:
    from pytest_concurrency.world.aio.runtime import AioWorld

#: the C task and the pure-Python one (used when the C accelerator is off)
TASK_TYPES: tuple[type, ...] = (asyncio.Task, asyncio.tasks._PyTask)  # type: ignore[attr-defined]

#: asyncio's default task names: a process-wide counter, so never shown (not deterministic)
_DEFAULT_TASK_NAME = re.compile(r"Task-\d+$")


def task_of(callback: object) -> asyncio.Task[Any] | None:
    """The task a callback steps or wakes (its ``__step``/``__wakeup``), if it is one."""
    owner = getattr(callback, "__self__", None)
    return cast("asyncio.Task[Any]", owner) if isinstance(owner, TASK_TYPES) else None


class Actor(ThreadRecord):
    """A strategy's view of an asyncio task, of "cancel that task", or of a loop's callbacks.

    Its park and exit locks (inherited) are never used: the thread running the
    loop acts for it.
    """

    __slots__ = ("cancel", "injected", "task", "victim")

    is_actor = True

    def __init__(self, index: int, thread: threading.Thread, name: str) -> None:
        super().__init__(index, thread, name, daemon=True)
        #: the task this actor steps (None for a loop's or a "cancel it now" actor)
        self.task: asyncio.Task[Any] | None = None
        #: a task's "cancel it now" actor (with injection on)
        self.cancel: Actor | None = None
        #: for a "cancel it now" actor: the task's actor
        self.victim: Actor | None = None
        #: a cancellation was injected into this task already
        self.injected = False


def task_label(serial: int, task: asyncio.Task[Any]) -> str:
    """``task-2 (save)`` for a task named by asyncio, ``task-2 writer`` for a named one."""
    name = task.get_name()
    if _DEFAULT_TASK_NAME.match(name) is None:
        return f"task-{serial} {name}"
    coro = task.get_coro()
    what = str(getattr(coro, "__qualname__", None) or type(coro).__name__)
    return f"task-{serial} ({what.rpartition('<locals>.')[2]})"


class Cast:
    """The actors of one loop, and who each scheduled callback belongs to."""

    __slots__ = ("_by_task", "_marks", "_origins", "_world", "loop_actor", "running", "tasks")

    def __init__(self, world: AioWorld, loop_name: str) -> None:
        self._world = world
        #: id(task) -> its actor (the actor keeps the task alive, so the id stays its own)
        self._by_task: dict[int, Actor] = {}
        #: task actors in creation order
        self.tasks: list[Actor] = []
        #: id(handle) -> the actor that scheduled it, for callbacks that are not task steps
        self._origins: dict[int, Actor] = {}
        #: id(handle) -> the event that scheduled it, for a reducing strategy (see .dpor)
        self._marks: dict[int, int] = {}
        self.loop_actor = Actor(world.sched.new_index(), threading.current_thread(), loop_name)
        #: the actor whose callback the loop is running, if any
        self.running: Actor | None = None

    def of_task(self, task: asyncio.Task[Any]) -> Actor:
        """The task's actor, created on first sight (creation order)."""
        actor = self._by_task.get(id(task))
        if actor is None:
            world = self._world
            thread = self.loop_actor.thread
            actor = Actor(world.sched.new_index(), thread, task_label(world.next_task(), task))
            actor.task = task
            if world.cancellable:
                cancel = Actor(world.sched.new_index(), thread, f"cancel {actor.name}")
                cancel.victim = actor
                actor.cancel = cancel
            self._by_task[id(task)] = actor
            self.tasks.append(actor)
        return actor

    def scheduled(self, handle: Any, on_loop_thread: bool) -> None:
        """Remember who scheduled ``handle`` (a task is met here for the first time).

        A reducing strategy also learns which event scheduled it: the step
        that runs it happens after that event (a task's first step after the
        code that created the task, a wake-up after the step that resolved
        the future it awaited).
        """
        task = task_of(handle._callback)
        if task is not None:
            self.of_task(task)
        elif on_loop_thread and self.running is not None:
            self._origins[id(handle)] = self.running
        mark = self._world.sched.mark()
        if mark >= 0:
            self._marks[id(handle)] = mark

    def scheduled_by(self, handle: Any) -> int:
        """The event that scheduled ``handle`` (-1 when unknown), see :meth:`scheduled`."""
        return self._marks.get(id(handle), -1)

    def of_handle(self, handle: Any) -> Actor:
        task = task_of(handle._callback)
        if task is not None:
            return self.of_task(task)
        return self._origins.get(id(handle), self.loop_actor)

    def forget(self, handle: Any) -> None:
        """``handle`` left the loop (it ran or was dropped): its id may be reused."""
        self._origins.pop(id(handle), None)
        self._marks.pop(id(handle), None)

    def release(self) -> None:
        """The loop closed: forget its callbacks and let go of its tasks.

        A task refers to its loop, the loop to its actors: left alone, every
        schedule's tasks would wait for the cycle collector, and meanwhile slow
        down ``asyncio.all_tasks`` (it scans every task alive in the process).
        """
        self._origins.clear()
        self._marks.clear()
        self._by_task.clear()
        self.tasks.clear()
        self.running = None

    def name_of(self, future: object) -> str | None:
        """The actor name of a task of this loop, else None."""
        actor = self._by_task.get(id(future))
        return actor.name if actor is not None else None

    def pending(self) -> list[tuple[Actor, asyncio.Task[Any]]]:
        """The tasks not done yet, in creation order."""
        alive = []
        for actor in self.tasks:
            task = actor.task
            if task is not None and not task.done():
                alive.append((actor, task))
        return alive

    def order_key(self, task: asyncio.Task[Any]) -> int:
        """Creation order of a task (-1 for one never seen: it never scheduled a step)."""
        actor = self._by_task.get(id(task))
        return actor.index if actor is not None else -1
