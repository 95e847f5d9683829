"""The controlled event loop: one ready callback per scheduling point, chosen by the strategy.

A real loop runs every ready callback in FIFO order, then polls its selector.
This one, at each iteration:

1. moves the timers that are due in *virtual* time to the ready queue;
2. if nothing is ready, blocks its thread in the scheduler until a callback
   arrives from another controlled thread (``call_soon_threadsafe``: an
   executor job finished) or the next timer is due -- virtual time jumps there
   once nothing else can run; nothing at all to wait for is a deadlock,
   reported task by task;
3. offers the strategy one option per actor with a ready callback (each task,
   see :mod:`.actors`), plus "cancel task X now" options when cancellation is
   injected, plus "fire the next timer now" with ``timers="choice"`` (time
   jumps to it although callbacks are ready: a timeout that wins the race),
   plus the other enabled threads; the FIFO head is the default, so an
   unguided run (dfs's first) is exactly asyncio's own order;
4. runs the chosen actor's oldest ready callback -- one task step, from one
   ``await`` to the next -- and returns to ``run_forever``.

There is no selector and no real blocking: sockets, pipes, subprocesses and
signal handlers raise ``NotImplementedError``, which is clearer than a hang.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_concurrency import _realtime
from pytest_concurrency.world.aio import cancellation, frames, sync_objects
from pytest_concurrency.world.aio.actors import TASK_TYPES, Actor, Cast, task_of
from pytest_concurrency.world.events import WRITE
from pytest_concurrency.world.scheduler import Abort, RunFailure, ThreadRecord
from pytest_concurrency.world.trace import is_internal

if TYPE_CHECKING:
    from pytest_concurrency.world.aio.runtime import AioWorld
    from pytest_concurrency.world.model import WaitEdge
    from pytest_concurrency.world.trace import Tracer

_get_ident = _realtime.get_ident

#: the loop's first run_until_complete (asyncio.run's main coroutine): not yet, running, over
_BEFORE_MAIN, _IN_MAIN, _AFTER_MAIN = range(3)


def _by_index(actor: ThreadRecord) -> int:
    return actor.index


class _Idle:
    """What the loop thread waits on when no callback is ready; explains a deadlock."""

    __slots__ = ("_loop",)

    def __init__(self, loop: ControlledLoop) -> None:
        self._loop = loop

    def label(self) -> str:
        return f"asyncio {self._loop.name}"

    def holder(self) -> ThreadRecord | None:
        return None

    def _states(self) -> list[tuple[str, list[Any]]]:
        cast = self._loop.cast
        states = []
        for actor, task in cast.pending():
            chain = frames.await_frames(task.get_coro())
            waiting = getattr(task, "_fut_waiter", None)
            what = frames.awaited_call(chain) or frames.describe_future(waiting, cast.name_of)
            where = frames.user_location(chain)
            text = f"{actor.name} awaits {what or 'something'}"
            states.append((f"{text} at {where}" if where else text, chain))
        return states

    def wait_for_edges(self) -> tuple[WaitEdge, ...]:
        """Each pending task and what it awaits, as records (the failure page draws them)."""
        from pytest_concurrency.world.model import WaitEdge

        cast = self._loop.cast
        edges = []
        for actor, task in cast.pending():
            chain = frames.await_frames(task.get_coro())
            waiting = getattr(task, "_fut_waiter", None)
            what = frames.awaited_call(chain) or frames.describe_future(waiting, cast.name_of)
            edges.append(WaitEdge(actor.name, "await", what or "something"))
        return tuple(edges)

    def deadlock_summary(self) -> str:
        states = self._states()
        if not states:
            return (
                f"deadlock: asyncio {self._loop.name} waits for a callback that nothing will "
                "ever schedule (no task is pending, no timer is set)"
            )
        return "deadlock: asyncio tasks wait on futures nobody will resolve: " + "; ".join(
            text for text, _ in states
        )

    def deadlock_details(self) -> str:
        lines = [f"asyncio tasks of {self._loop.name} (in creation order):"]
        for text, chain in self._states():
            lines.append(f"  {text}")
            lines += frames.format_chain(chain, "    ")
        return "\n".join(lines)


class ControlledLoop(asyncio.BaseEventLoop):
    """An event loop whose every callback is a scheduling point of the run (see module doc)."""

    def __init__(self, world: AioWorld) -> None:
        super().__init__()
        self._world = world
        self._sched = world.sched
        self.name = f"loop#{world.next_loop()}"
        self.cast = Cast(world, self.name)
        self._idle = _Idle(self)
        self._phase = _BEFORE_MAIN
        #: the run was aborted while this loop ran: its leftovers are torn down silently
        self._aborted = False
        #: timers="choice": the "fire the next timer now" actor, made when first offered
        self._timer_actor: Actor | None = None

    # -- time, wake-ups, bookkeeping --------------------------------------------------------------

    def time(self) -> float:
        """The scheduler's virtual clock (the same as ``time.monotonic()`` in the run)."""
        return self._sched.now

    def _write_to_self(self) -> None:
        """Nothing to wake: the scheduler sees a callback handed over by another thread."""

    def _process_events(self, event_list: Any) -> None:
        """No selector, no events."""

    def _on_loop_thread(self) -> bool:
        return bool(self._thread_id == _get_ident())  # type: ignore[attr-defined]

    def _call_soon(self, callback: Any, args: Any, context: Any) -> Any:
        handle = super()._call_soon(callback, args, context)  # type: ignore[misc]
        self.cast.scheduled(handle, self._on_loop_thread())
        return handle

    # typeshed types *args with a TypeVarTuple, which needs 3.11's typing: same signature
    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        timer = super().call_at(when, callback, *args, context=context)
        self.cast.scheduled(timer, self._on_loop_thread())
        return timer

    def create_task(self, coro: Any, **kwargs: Any) -> Any:
        task = super().create_task(coro, **kwargs)
        if isinstance(task, TASK_TYPES):
            self.cast.of_task(task)  # eager tasks (3.12+) schedule no first step
        return task

    def creation_order(self, task: asyncio.Task[Any]) -> int:
        return self.cast.order_key(task)

    def run_until_complete(self, future: Any) -> Any:
        if self._phase != _BEFORE_MAIN:
            return super().run_until_complete(future)
        self._phase = _IN_MAIN
        try:
            return super().run_until_complete(future)
        finally:
            self._phase = _AFTER_MAIN

    def close(self) -> None:
        if self.cast.pending():
            self._world.left_pending = True  # see AioWorld.left_pending
        super().close()
        self.cast.release()

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Exceptions in callbacks fail the run like a thread's would; teardown noise is dropped.

        ``Abort`` (the run is over) must unwind the loop, not be logged; once
        a run was aborted its leftover tasks are destroyed pending, which is
        expected, not news.
        """
        error = context.get("exception")
        if self._aborted or isinstance(error, Abort):
            if isinstance(error, Abort) and "handle" in context and self._on_loop_thread():
                raise error
            return
        if (
            "handle" in context
            and isinstance(error, Exception)
            and self._exception_handler is None  # type: ignore[attr-defined]
            and self._sched.thread_errors == "fail"
            and self._on_loop_thread()
        ):
            running = self.cast.running
            self._sched.fail(
                RunFailure(
                    "exception",
                    f"{context.get('message', 'an asyncio callback raised')}: "
                    f"{type(error).__qualname__}: {error}",
                    cause=error,
                    thread=running.name if running is not None else self.name,
                )
            )
            raise Abort
        super().call_exception_handler(context)

    # -- one iteration ----------------------------------------------------------------------------

    def _run_once(self) -> None:
        sched = self._sched
        me = sched.caller()
        if me.index < 0:
            raise RuntimeError(
                f"asyncio {self.name} belongs to an interleavings run that is over; "
                "an event loop created inside a scenario cannot be run after it"
            )
        try:
            chosen = self._choose(me)
            if chosen is not None:
                self._perform(me, *chosen)
        except Abort:
            self._aborted = True
            raise

    def _choose(self, me: ThreadRecord) -> tuple[Actor, Any] | None:
        """The actor to run next and its oldest ready callback (None: stop, nothing ready)."""
        sched = self._sched
        while True:
            self._release_due_timers()
            if not self._ready:  # type: ignore[attr-defined]
                if self._stopping:  # type: ignore[attr-defined]
                    return None
                sched.block(me, self._has_ready, self._next_timer(), "sleep", self._idle)
                continue
            firsts = self._oldest_per_actor()
            if not firsts:
                continue
            options: list[ThreadRecord] = [actor for actor, _ in firsts]
            if self._phase == _IN_MAIN and self._world.cancellable:
                options += cancellation.options(self._world, firsts)
            timer = self._timer_option() if sched.timer_choices else None
            if timer is not None:
                options.append(timer)
            options.sort(key=_by_index)
            chosen = sched.choose_own(me, options, firsts[0][0], "run callbacks", self._idle)
            if chosen is None:  # another thread ran meanwhile: look again
                continue
            if chosen is timer:
                self._fire_next_timer()
                continue
            for actor, handle in firsts:
                if actor is chosen:
                    return actor, handle
            assert isinstance(chosen, Actor)
            return chosen, None  # a "cancel it now" actor

    def _timer_option(self) -> Actor | None:
        """The "fire the next timer now" option, unless a thread's timeout is due before it."""
        when = self._next_timer()
        if when is None:
            return None
        sched = self._sched
        now = sched.now
        for record in sched.live:
            deadline = record.deadline
            if record.blocked and deadline is not None and now < deadline < when:
                return None  # time may not skip a thread's earlier deadline
        if self._timer_actor is None:
            thread = self.cast.loop_actor.thread
            self._timer_actor = Actor(sched.new_index(), thread, f"{self.name} timer")
        return self._timer_actor

    def _fire_next_timer(self) -> None:
        sched = self._sched
        when = self._next_timer()
        assert when is not None
        sched.now = max(sched.now, when)
        if sched.tracer is not None:
            sched.tracer.time_advanced(sched)

    def _has_ready(self) -> bool:
        return bool(self._ready)  # type: ignore[attr-defined]

    def _release_due_timers(self) -> None:
        scheduled: list[Any] = self._scheduled  # type: ignore[attr-defined]
        now = self._sched.now
        while scheduled:
            timer = scheduled[0]
            if timer._cancelled:
                heapq.heappop(scheduled)
                timer._scheduled = False
                self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
                self.cast.forget(timer)
                continue
            if timer._when > now:
                return
            heapq.heappop(scheduled)
            timer._scheduled = False
            self._ready.append(timer)  # type: ignore[attr-defined]

    def _next_timer(self) -> float | None:
        scheduled: list[Any] = self._scheduled  # type: ignore[attr-defined]
        return float(scheduled[0]._when) if scheduled else None

    def _oldest_per_actor(self) -> list[tuple[Actor, Any]]:
        """Each actor with a ready callback, with its oldest one, in FIFO order."""
        ready = self._ready  # type: ignore[attr-defined]
        cast = self.cast
        firsts: list[tuple[Actor, Any]] = []
        seen: set[int] = set()
        dropped = False
        for handle in ready:
            if handle._cancelled:
                dropped = True
                continue
            actor = cast.of_handle(handle)
            if actor.index not in seen:
                seen.add(actor.index)
                firsts.append((actor, handle))
        if dropped:
            kept = []
            for handle in ready:
                if handle._cancelled:
                    cast.forget(handle)
                else:
                    kept.append(handle)
            ready.clear()
            ready.extend(kept)
        return firsts

    def _perform(self, me: ThreadRecord, actor: Actor, handle: Any) -> None:
        """Run ``actor``'s step (``handle``) on this loop's thread ``me``, or inject its cancel."""
        sched = self._sched
        tracer = sched.tracer
        if handle is None:
            victim = cancellation.inject(self._world, actor)
            sync_objects.touched(victim.task, WRITE)  # what its next step resumes with
            if tracer is not None:
                self._trace_cancel(tracer, victim)
            return
        ready = self._ready  # type: ignore[attr-defined]
        for position, queued in enumerate(ready):
            if queued is handle:
                del ready[position]
                break
        sched.after(self.cast.scheduled_by(handle))
        if actor.task is not None:
            # a step may finish its task (done(), result()) and reads its cancellation
            sync_objects.touched(actor.task, WRITE)
        self.cast.forget(handle)
        if tracer is not None:
            self._trace_step(tracer, actor, handle)
        self.cast.running = actor
        me.acting_for = actor
        if self._debug:  # type: ignore[attr-defined]
            self._current_handle = handle
        try:
            handle._run()
        finally:
            me.acting_for = None
            self.cast.running = None
            self._current_handle = None

    # -- tracing (only while a failing schedule is replayed) ---------------------------------------

    def _trace_step(self, tracer: Tracer, actor: Actor, handle: Any) -> None:
        """One row per task step or user callback; asyncio's own bookkeeping is left out."""
        task = task_of(handle._callback)
        if task is None:
            callback = handle._callback
            code = getattr(callback, "__code__", None)
            if code is None or not is_internal(code.co_filename):
                name = getattr(callback, "__qualname__", None) or type(callback).__name__
                tracer.step(actor.name, "callback", name)
            return
        coro = task.get_coro()
        chain = frames.await_frames(coro)
        if chain and is_internal(chain[0].f_code.co_filename):
            return  # a task of asyncio's own (asyncio.run's shutdown steps)
        where = frames.user_location(chain)
        if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            tracer.step(actor.name, "starts", "", where)
            return
        awaited = handle._args[0] if handle._args else None
        what = frames.awaited_call(chain)
        if not what and not isinstance(awaited, BaseException):
            what = frames.describe_future(awaited, self.cast.name_of)
        tracer.step(actor.name, "resumes", what, where)

    def _trace_cancel(self, tracer: Tracer, victim: Actor) -> None:
        task = victim.task
        chain = frames.await_frames(task.get_coro()) if task is not None else []
        tracer.step(
            victim.name,
            "CancelledError injected",
            frames.awaited_call(chain),
            frames.user_location(chain),
        )
