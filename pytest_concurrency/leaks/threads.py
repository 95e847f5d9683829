"""Leaked threads: alive at the end of a check, not alive at its start.

While a check runs, ``threading.Thread.start`` is wrapped (through the
checker's :class:`~pytest_concurrency._patching.Patcher`) to record where each
thread was started. At the end, threads that are still alive are joined until
the grace deadline -- a thread that is finishing is not a leak -- and only the
ones still alive after that are reported, each with its creation stack and the
line it is running now.

Harness threads are never reported:

- any thread alive when the check started (compared by identity);
- threads named ``pytest-concurrency...``: the naming convention for every
  thread this plugin starts for itself;
- pytest-timeout's timer (named ``pytest_timeout <nodeid>``) and threads of
  pytest-timeout, pytest-xdist and execnet, recognised by the module of their
  target, their class, or the code they are running.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable
from functools import wraps
from typing import Any, ClassVar

from pytest_concurrency import _harness, _realtime
from pytest_concurrency._patching import Patcher
from pytest_concurrency.leaks import stacks
from pytest_concurrency.leaks.core import Findings, Leak
from pytest_concurrency.leaks.stacks import Frame

#: every thread the plugin starts for itself has a name starting with this
HARNESS_THREAD_PREFIX = "pytest-concurrency"
#: pytest-timeout names its ``--timeout-method=thread`` timer ``"pytest_timeout <nodeid>"``
_HARNESS_NAME_PREFIXES = (HARNESS_THREAD_PREFIX, "pytest_timeout ")
#: packages whose threads belong to the test run, not to the code under test
HARNESS_PACKAGES = _harness.THREAD_STARTERS


def _unwrap(target: object) -> object:
    return getattr(target, "func", target)  # functools.partial


def _module_of(obj: object) -> str:
    module = getattr(_unwrap(obj), "__module__", None)
    return module if isinstance(module, str) else ""


def is_harness_thread(thread: threading.Thread) -> bool:
    """True for threads of the test harness (see the module docstring), never reported."""
    if thread.name.startswith(_HARNESS_NAME_PREFIXES):
        return True
    owners = (
        _module_of(getattr(thread, "_target", None)),
        _module_of(getattr(thread, "function", None)),  # threading.Timer
        type(thread).__module__,
    )
    if any(stacks.in_packages(owner, HARNESS_PACKAGES) for owner in owners):
        return True
    running = sys._current_frames().get(thread.ident or -1)
    return any(
        stacks.in_packages(module, HARNESS_PACKAGES) for module in stacks.running_modules(running)
    )


def _is_alive(thread: threading.Thread) -> bool:
    # a _DummyThread (started with _thread directly) stays in threading's table
    # on some versions after it ends; the interpreter's frame table does not
    if isinstance(thread, threading._DummyThread):
        return thread.ident in sys._current_frames()
    return thread.is_alive()


class ThreadDetector:
    """Threads started during the check and still alive after the grace period."""

    kind: ClassVar[str] = "threads"

    def __init__(self) -> None:
        self._baseline: set[threading.Thread] = set()
        self._stacks: weakref.WeakKeyDictionary[threading.Thread, tuple[Frame, ...]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = _realtime.allocate_lock()

    def start(self, patcher: Patcher) -> None:
        self._baseline = set(threading.enumerate())
        patcher.setattr(threading.Thread, "start", self._recording(threading.Thread.start))

    def _recording(
        self, original: Callable[[threading.Thread], None]
    ) -> Callable[[threading.Thread], None]:
        @wraps(original)
        def start(thread: threading.Thread, *args: Any, **kwargs: Any) -> None:
            stack = stacks.capture()
            with self._lock:
                self._stacks[thread] = stack
            original(thread, *args, **kwargs)

        return start

    def finish(self, deadline: float) -> Findings:
        current = threading.current_thread()
        # harness threads are dropped before the grace period: they may live for the whole run
        candidates = [
            thread
            for thread in threading.enumerate()
            if thread not in self._baseline
            and thread is not current
            and not is_harness_thread(thread)
        ]
        for thread in candidates:
            if isinstance(thread, threading._DummyThread):
                continue  # cannot be joined; _is_alive() asks the interpreter instead
            try:
                thread.join(max(0.0, deadline - _realtime.monotonic()))
            except RuntimeError:  # still inside another thread's start(): certainly not finishing
                pass
        leaked = [thread for thread in candidates if _is_alive(thread)]
        with self._lock:
            found = tuple(Leak(self.kind, _describe(t), self._stacks.get(t, ())) for t in leaked)
        return Findings(found)


def _describe(thread: threading.Thread) -> str:
    facts = ["daemon" if thread.daemon else "non-daemon"]
    target = getattr(thread, "_target", None)
    if target is not None:
        name = getattr(_unwrap(target), "__qualname__", None) or repr(target)
        module = _module_of(target)
        facts.append(f"target {module}.{name}" if module else f"target {name}")
    running = stacks.frames_from(sys._current_frames().get(thread.ident or -1), limit=1)
    if running:
        facts.append(f"now at {running[0].location()}")
    if isinstance(thread, threading._DummyThread):
        facts.append("started outside threading.Thread, creation not recorded")
    return f"thread {thread.name!r} ({'; '.join(facts)})"
