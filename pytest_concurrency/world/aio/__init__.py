"""asyncio in the controlled world: every ready callback is a choice of the strategy.

A run that uses asyncio gets :class:`~.loop.ControlledLoop` event loops (from
``asyncio.run``, ``asyncio.new_event_loop`` or a coroutine-function scenario).
The thread running such a loop is an ordinary controlled thread; where a real
loop drains its ready queue in FIFO order, this one asks the scheduler which
ready task (or other callback) runs next -- among the other enabled threads
too, so code mixing tasks and ``asyncio.to_thread`` is one world. Loop time is
the scheduler's virtual clock: with nothing ready, the loop thread blocks in
the scheduler until the next timer (time jumps there when nothing else can
run) or until another thread hands it a callback.

Modules: :mod:`.actors` (which task a ready callback belongs to),
:mod:`.frames` (where a task is suspended, for traces and deadlock reports),
:mod:`.cancellation` (injected ``CancelledError`` as a choice),
:mod:`.loop` (the loop) and :mod:`.runtime` (installing it for one run).
"""
