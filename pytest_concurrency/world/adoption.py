"""A ``threading.Thread`` object run by a pooled OS thread: started and ended by hand.

``Thread.start`` creates an OS thread whose bootstrap records the thread's
identity in the object and in ``threading``'s registry, and the interpreter
signals the thread's end when the OS thread's state is deleted. A thread of a
run carried by a pooled OS thread (see :mod:`.workers`) never goes through
either, so this module does by hand what they would have done, for the same
observations: ``ident`` and ``native_id`` are the carrier's, the object is in
``threading._active`` (``current_thread()``, ``enumerate()``) from the start
to the end of its run, and ``is_alive()`` and ``join()`` see it end when its
carrier is done with it.

The end is signalled the way each Python version's ``join`` waits for it:
on 3.10 to 3.12 a ``_tstate_lock``, held while the thread runs and released
at its end (the interpreter's own is released when the OS thread's state is
deleted; this one by the carrier); on 3.13 a ``_ThreadHandle`` made for the
carrier's ident and marked done at the end. As with the fresh OS threads of a
run, nothing is registered for ``threading._shutdown`` to wait for: a thread
of a run never keeps the interpreter alive.

Every function is idempotent and tolerates a half-done earlier call: an
interrupt may cut any of them short, and the run's cleanup calls them again.
None takes ``threading``'s registry lock: an interrupt landing between its
acquire and release would leave every later thread start blocked for good.
Each change of the registry is one dictionary operation, atomic under the
GIL, for an ident only its carrier and this module ever write.
"""

from __future__ import annotations

import _thread
import threading

from pytest_concurrency import _realtime

#: ``threading``'s registry of running threads (ident -> Thread)
_ACTIVE: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]

#: 3.13 keeps a thread's end in a ``_ThreadHandle``; 3.10-3.12 in a ``_tstate_lock``
HANDLES = hasattr(_thread, "_make_thread_handle")


def adopt(thread: threading.Thread, ident: int, native_id: int | None) -> None:
    """Make ``thread`` look started on the OS thread ``ident``: what its bootstrap would set.

    Called by the starting thread before the carrier runs anything, so that
    when ``start()`` returns the object already answers ``ident``,
    ``native_id`` and ``is_alive()`` as a freshly started thread does.
    """
    thread._ident = ident  # type: ignore[attr-defined]
    thread._native_id = native_id  # type: ignore[attr-defined]
    if HANDLES:
        thread._handle = _thread._make_thread_handle(ident)  # type: ignore[attr-defined]
    else:
        end = _realtime.allocate_lock()
        end.acquire()
        thread._tstate_lock = end  # type: ignore[attr-defined]
    thread._started.set()  # type: ignore[attr-defined]
    _ACTIVE[ident] = thread


def leave(thread: threading.Thread, ident: int) -> None:
    """Take ``thread`` out of ``threading._active`` (the end of its bootstrap's ``_delete``)."""
    if _ACTIVE.get(ident) is thread:
        _ACTIVE.pop(ident, None)


def end(thread: threading.Thread) -> None:
    """Signal ``thread``'s end: ``join()`` returns and ``is_alive()`` is False from now on."""
    if HANDLES:
        handle = thread._handle  # type: ignore[attr-defined]
        if not handle.is_done():
            handle._set_done()
        return
    lock = thread._tstate_lock  # type: ignore[attr-defined]
    if lock is not None and lock.locked():
        lock.release()


def unadopt(thread: threading.Thread, ident: int) -> None:
    """Undo :func:`adopt` for a thread whose carrier never ran it: it looks never started."""
    leave(thread, ident)
    thread._started.clear()  # type: ignore[attr-defined]
    thread._ident = None  # type: ignore[attr-defined]
    thread._native_id = None  # type: ignore[attr-defined]
    if HANDLES:
        thread._handle = _thread._ThreadHandle()  # type: ignore[attr-defined]
    else:
        thread._tstate_lock = None  # type: ignore[attr-defined]


def forget_dummy(ident: int) -> None:
    """Drop a ``_DummyThread`` made for the carrier ``ident`` between two threads of a run.

    ``current_thread()`` called where no ``Thread`` object is registered (a
    finalizer run while the carrier cleans up) registers a dummy for good; a
    carrier is nobody's thread between two runs, so it must not stay listed.
    """
    found = _ACTIVE.get(ident)
    if found is not None and isinstance(found, threading._DummyThread):
        _ACTIVE.pop(ident, None)
