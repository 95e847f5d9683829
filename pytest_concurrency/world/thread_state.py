"""What one thread of a run leaves in its OS thread's interpreter state, wiped before the next.

A pooled OS thread (see :mod:`.workers`) carries one thread of a run after
another. Whatever the interpreter keeps *per OS thread* would leak from one to
the next, where a fresh OS thread would start clean. Each is handled here:

* ``contextvars``: every thread runs in a new, empty ``Context``, as a fresh
  thread's first context is;
* trace and profile functions: set from ``threading``'s hooks at the start, as
  a new thread's bootstrap does, and removed at the end;
* async generator hooks and coroutine origin tracking: reset when changed;
* the thread state dictionary (``PyThreadState_GetDict``), where CPython 3.10
  to 3.12 keep ``threading.local`` values and C extensions their per-thread
  data: what a thread added is deleted, which is what the thread's exit does
  (a ``threading.local`` forgets the thread's values through the same weak
  reference callback);
* ``threading.local`` on 3.13, whose values hang off a per-thread key that
  only the end of the OS thread resets: a thread that touched one is detected
  (the key gained references) and its OS thread leaves the pool instead of
  carrying another thread;
* a running asyncio event loop still registered at the end: likewise.

:meth:`CarrierState.wipe` says whether the OS thread is clean again; when it
is not, the pool lets it end (a fresh OS thread for the next thread of a run).
"""

from __future__ import annotations

import contextvars
import gc
import sys
import threading
from collections.abc import Callable
from typing import Any

#: 3.13 keeps ``threading.local`` values off the thread state dictionary
_LOCALS_IN_DICT = sys.version_info < (3, 13)


class CarrierUnavailable(RuntimeError):
    """The interpreter does not expose what a pooled OS thread needs (fresh threads are used)."""


def _thread_state_dict() -> dict[Any, Any]:
    """The calling OS thread's ``PyThreadState_GetDict()`` (a stable C API function)."""
    try:
        import ctypes
    except ImportError as error:  # an interpreter built without ctypes
        raise CarrierUnavailable("ctypes is not available") from error
    getter = ctypes.pythonapi.PyThreadState_GetDict
    getter.restype = ctypes.c_void_p  # a borrowed reference: never let ctypes own it
    getter.argtypes = []
    address = getter()
    if not address:
        raise CarrierUnavailable("PyThreadState_GetDict() returned NULL")
    found = ctypes.cast(address, ctypes.py_object).value  # a new reference of our own
    if type(found) is not dict:
        raise CarrierUnavailable(f"the thread state dictionary is a {type(found).__name__}")
    return found


def _local_key(probe: object) -> object:
    """3.13: the calling thread's ``threading.local`` key, found through a local it made."""
    tables = [
        referent
        for referent in gc.get_referents(probe)
        if type(referent) is dict and len(referent) == 1
    ]
    keys = [key for table in tables for key in table]
    if len(keys) != 1 or type(keys[0]).__name__ != "_localdummy":
        raise CarrierUnavailable("threading.local keeps its per-thread values unexpectedly")
    return keys[0]


class CarrierState:
    """The per-OS-thread interpreter state of one pooled thread; built on that thread."""

    __slots__ = ("_baseline", "_dict", "_key", "_key_refs", "_probe")

    def __init__(self) -> None:
        import _thread

        self._dict = _thread_state_dict()
        self._probe: Any = None
        self._key: object = None
        self._key_refs = 0
        if not _LOCALS_IN_DICT:
            self._probe = _thread._local()  # made here: its only thread is this one
            self._key = _local_key(self._probe)
            self._key_refs = sys.getrefcount(self._key)
        #: what this OS thread's dictionary held before any thread of a run ran on it
        self._baseline = dict(self._dict)

    def run(self, body: Callable[[], object]) -> None:
        """Run ``body`` as a fresh thread's ``run()`` would: threading's hooks, an empty context."""
        trace = threading._trace_hook  # type: ignore[attr-defined]
        if trace:
            sys.settrace(trace)
        profile = threading._profile_hook
        if profile:
            sys.setprofile(profile)
        contextvars.Context().run(body)

    def wipe(self) -> bool:
        """Remove what the last thread left; False when this OS thread cannot be made fresh."""
        if sys.gettrace() is not None:
            sys.settrace(None)
        if sys.getprofile() is not None:
            sys.setprofile(None)
        hooks = sys.get_asyncgen_hooks()
        if hooks.firstiter is not None or hooks.finalizer is not None:
            sys.set_asyncgen_hooks(None, None)
        if sys.get_coroutine_origin_tracking_depth():
            sys.set_coroutine_origin_tracking_depth(0)
        clean = True
        state = self._dict
        baseline = self._baseline
        if len(state) != len(baseline) or any(state.get(k) is not v for k, v in baseline.items()):
            # deleted one by one: a value's finalizer may use the dictionary meanwhile
            for key in [key for key in state if key not in baseline]:
                state.pop(key, None)
            clean = all(state.get(k) is v for k, v in baseline.items())
        if self._key is not None and sys.getrefcount(self._key) != self._key_refs:
            clean = False  # a threading.local holds values for this OS thread (3.13)
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None and asyncio.events._get_running_loop() is not None:
            clean = False
        return clean
