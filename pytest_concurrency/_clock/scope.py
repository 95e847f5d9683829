"""Which threads see virtual time.

The stand-ins are process-global, but the clock is *thread-scoped*: the driver
(the thread that installed it -- the test's thread) and every thread an
in-scope thread starts while it is installed see virtual time; every other
thread (pytest-timeout's timer, xdist's channel threads, executors created
before the test) keeps real time. ``Thread.start`` marks the new thread object;
the answer for the calling thread is then cached in a thread-local, so the
check on every patched call costs one attribute read.
"""

from __future__ import annotations

import threading

from pytest_concurrency import _realtime

#: ``threading._active`` (ident -> Thread): looking a thread up without
#: ``current_thread()``, which would create a ``_DummyThread`` for foreign threads
_ACTIVE_THREADS: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]
_MARK = "_pytest_concurrency_clock_scope"


def thread_name(ident: int) -> str:
    """The name of the thread ``ident``, without creating a dummy thread object."""
    thread = _ACTIVE_THREADS.get(ident)
    return thread.name if thread is not None else f"<thread {ident}>"


class Scope:
    """The set of threads in scope for one installation of a clock.

    ``threads`` and ``starting`` are the timeline's to read and write under its
    lock: they tell it whether every in-scope thread is parked.
    """

    def __init__(self) -> None:
        self.driver_ident = _realtime.get_ident()
        self.token = object()
        #: per-thread cache of the answer to "is this thread in scope?"
        self.local = _thread_local()
        self.local.in_scope = True
        #: threads started in scope and not yet seen dead
        self.threads: set[threading.Thread] = set()
        #: ``Thread.start`` calls in progress in scope (the new thread is not yet tracked)
        self.starting = 0

    def here(self) -> bool:
        """True when the calling thread is in scope."""
        try:
            return bool(self.local.in_scope)
        except AttributeError:
            return self._classify()

    def mark(self, thread: threading.Thread) -> None:
        """Put ``thread`` (not yet started) in scope."""
        thread.__dict__[_MARK] = self.token

    def _classify(self) -> bool:
        thread = _ACTIVE_THREADS.get(_realtime.get_ident())
        if thread is None:
            # a foreign thread, or one of ours still in its bootstrap (it enters
            # ``threading._active`` after setting ``_started``): answer, don't cache
            return False
        value = thread.__dict__.get(_MARK) is self.token
        self.local.in_scope = value
        return value


def _thread_local() -> threading.local:
    # ``threading.local`` is the C ``_thread._local``; never patched by the clock
    return threading.local()
