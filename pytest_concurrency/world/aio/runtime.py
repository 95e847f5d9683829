"""asyncio for one run: controlled loops from the usual entry points, coroutine scenarios.

During a run, a controlled thread asking asyncio for a new event loop --
``asyncio.run``, ``asyncio.Runner``, ``asyncio.new_event_loop()``, all of which
go through the default policy's ``new_event_loop`` -- gets a
:class:`~.loop.ControlledLoop`; any other thread gets the usual one. A
coroutine-function scenario runs on the scenario thread the way ``asyncio.run``
would run it, on a controlled loop.

A loop that is *not* controlled -- made by a custom event loop policy, or by
hand (``asyncio.SelectorEventLoop()``) -- would run its tasks unscheduled. Every
pure-Python loop calls ``asyncio.events._set_running_loop`` when it starts
running; during a run, a controlled thread starting any other loop fails the
run naming the loop's class (see :mod:`..escapes`). So does handing work to a
loop outside the run (``asyncio.run_coroutine_threadsafe``,
``loop.call_soon_threadsafe`` on a loop another thread runs): it would run
there, unscheduled.

``asyncio.all_tasks`` returns a set, iterated in hash (``id()``) order; code
that cancels or gathers "all tasks" -- ``asyncio.run``'s own cleanup, for one
-- would then schedule callbacks in an order that differs between processes
and make schedules irreproducible. During a run, for a controlled loop, it
returns a set that iterates in task creation order.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import asyncio.tasks
import gc
import inspect
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from pytest_concurrency._patching import Patcher
from pytest_concurrency.world import escapes
from pytest_concurrency.world.aio import sync_objects
from pytest_concurrency.world.aio.loop import ControlledLoop
from pytest_concurrency.world.scheduler import Scheduler, controlling_scheduler

#: the asyncio state of the run in progress; installed and removed through the run's Patcher
_WORLD: AioWorld | None = None

_Policy = asyncio.events.BaseDefaultEventLoopPolicy
_original_new_event_loop = _Policy.new_event_loop
_original_all_tasks = asyncio.tasks.all_tasks
_original_set_running_loop = asyncio.events._set_running_loop
_original_run_coroutine_threadsafe = asyncio.run_coroutine_threadsafe
_original_call_soon_threadsafe = asyncio.BaseEventLoop.call_soon_threadsafe
#: what asyncio.run does with the tasks its main coroutine left running (3.10-3.13)
_cancel_all_tasks: Callable[[asyncio.AbstractEventLoop], None] = asyncio.runners._cancel_all_tasks  # type: ignore[attr-defined]


class AioWorld:
    """What the controlled loops of one run share: its scheduler, budget and numbering."""

    __slots__ = ("_loops", "_tasks", "cancellable", "cancels_left", "left_pending", "sched")

    def __init__(self, sched: Scheduler, inject_cancel: int) -> None:
        self.sched = sched
        #: a loop closed with tasks still pending (the run was cut short): their coroutines
        #: are garbage in reference cycles, closed whenever the collector runs -- in a later
        #: run's thread, their ``finally`` clauses would be steps of that run (see collect)
        self.left_pending = False
        #: tasks get a "cancel it now" actor only when injection is on
        self.cancellable = inject_cancel > 0
        self.cancels_left = inject_cancel
        self._tasks = 0
        self._loops = 0

    def next_task(self) -> int:
        """The run-wide creation number of a task (``task-3``)."""
        self._tasks += 1
        return self._tasks

    def next_loop(self) -> int:
        self._loops += 1
        return self._loops

    @property
    def loops(self) -> int:
        """Controlled event loops made so far in this run."""
        return self._loops


def _new_event_loop(policy: asyncio.events.BaseDefaultEventLoopPolicy) -> asyncio.AbstractEventLoop:
    world = _WORLD
    if world is not None and controlling_scheduler() is world.sched:
        return ControlledLoop(world)
    return _original_new_event_loop(policy)


def _set_running_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    world = _WORLD
    if (
        loop is not None
        and not isinstance(loop, ControlledLoop)
        and world is not None
        and controlling_scheduler() is world.sched
    ):
        kind = type(loop)
        raise escapes.escape(
            world.sched,
            "uncontrolled event loop: the scenario ran an event loop of class "
            f"{kind.__module__}.{kind.__qualname__}, which the run does not control, so its "
            "tasks would run unexplored; make loops with asyncio.run(), asyncio.Runner or "
            "asyncio.new_event_loop() under the default event loop policy, or make the "
            "scenario a coroutine function",
        )
    _original_set_running_loop(loop)


def _refuse_foreign_loop(loop: object, what: str) -> None:
    """Fail the run when a controlled thread hands work to a loop outside the run."""
    world = _WORLD
    if isinstance(loop, ControlledLoop) or world is None:
        return
    if controlling_scheduler() is world.sched:
        kind = type(loop)
        raise escapes.escape(
            world.sched,
            f"uncontrolled event loop: the scenario called {what} with an event loop of class "
            f"{kind.__module__}.{kind.__qualname__} that the run does not control (it runs "
            "in another thread), so that work would run unexplored; run the coroutines on a "
            "loop of the scenario (asyncio.run(), or a coroutine-function scenario)",
        )


def _run_coroutine_threadsafe(coro: Any, loop: asyncio.AbstractEventLoop) -> Any:
    _refuse_foreign_loop(loop, "asyncio.run_coroutine_threadsafe()")
    return _original_run_coroutine_threadsafe(coro, loop)


def _call_soon_threadsafe(
    self: asyncio.BaseEventLoop, callback: Any, *args: Any, **kwargs: Any
) -> Any:
    _refuse_foreign_loop(self, "loop.call_soon_threadsafe()")
    return _original_call_soon_threadsafe(self, callback, *args, **kwargs)


class _CreationOrdered(set[Any]):
    """A set of tasks that iterates in creation order (see the module docstring)."""

    def __init__(self, tasks: set[Any], loop: ControlledLoop) -> None:
        super().__init__(tasks)
        self._order = sorted(tasks, key=loop.creation_order)

    def __iter__(self) -> Iterator[Any]:
        return iter([task for task in self._order if task in self])


def _all_tasks(loop: asyncio.AbstractEventLoop | None = None) -> set[asyncio.Task[Any]]:
    tasks = _original_all_tasks(loop)
    if loop is None:
        loop = asyncio.get_running_loop()
    if isinstance(loop, ControlledLoop):
        return _CreationOrdered(tasks, loop)
    return tasks


def _coroutine_scenario(
    world: AioWorld, scenario: Callable[[], Coroutine[Any, Any, object]]
) -> Callable[[], None]:
    """What the scenario thread runs for a coroutine function: ``asyncio.run``, trimmed.

    The same steps -- run the main coroutine, cancel and await what it left
    running, finalise async generators, shut the default executor down, close --
    but the last two only when there is something to do: each is a task, and
    they would be most of a small scenario's steps.
    """

    def run_coroutine_scenario() -> None:
        loop = ControlledLoop(world)
        try:
            loop.run_until_complete(scenario())
        finally:
            try:
                _cancel_all_tasks(loop)
                if loop._asyncgens:  # type: ignore[attr-defined]
                    loop.run_until_complete(loop.shutdown_asyncgens())
                if loop._default_executor is not None:  # type: ignore[attr-defined]
                    loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    return run_coroutine_scenario


def install(
    patcher: Patcher, sched: Scheduler, scenario: Callable[[], object], inject_cancel: int
) -> tuple[AioWorld, Callable[[], object]]:
    """Make asyncio controlled for one run; returns its world and what the scenario thread calls."""
    world = AioWorld(sched, inject_cancel)
    patcher.setattr(sys.modules[__name__], "_WORLD", world)
    patcher.setattr(_Policy, "new_event_loop", _new_event_loop)
    patcher.setattr(asyncio.tasks, "all_tasks", _all_tasks)
    patcher.setattr(asyncio, "all_tasks", _all_tasks)
    patcher.setattr(asyncio.events, "_set_running_loop", _set_running_loop)
    patcher.setattr(asyncio, "run_coroutine_threadsafe", _run_coroutine_threadsafe)
    patcher.setattr(asyncio.tasks, "run_coroutine_threadsafe", _run_coroutine_threadsafe)
    patcher.setattr(asyncio.BaseEventLoop, "call_soon_threadsafe", _call_soon_threadsafe)
    if sched.events is not None:  # a reducing strategy: it must see asyncio's own objects
        sync_objects.install(patcher)
    if inspect.iscoroutinefunction(scenario):
        return world, _coroutine_scenario(world, scenario)
    return world, scenario


def collect(world: AioWorld) -> None:
    """Close the coroutines a run left pending now, between runs, not in a later run's thread.

    Called once the run is over and its patches are restored: their ``finally``
    clauses then run in the coordinator, where nothing is a scheduling point
    and the run's primitives act unscheduled.
    """
    if world.left_pending:
        gc.collect()
