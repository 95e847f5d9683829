"""Dual-mode primitives: real outside a run, controlled inside one (a session-wide opt-in).

A lock made at import -- a module global, a closure cell, a decorator's wrapper,
a class attribute -- outlives every run, so the factories a run installs never
see it, and ``patch()`` only finds the copies it can reach. With the opt-in
(``--interleavings-controllable-locks``, ini ``interleavings_controllable_locks``)
:func:`install` replaces ``threading.Lock``, ``RLock``, ``Condition``,
``Semaphore``, ``BoundedSemaphore``, ``Event`` and ``Barrier`` before the test
modules are imported, with factories of *dual-mode* objects. Each one wraps a
real primitive and decides on every call:

- outside a run, or called by a thread the run does not control (pytest,
  a background thread started at import): the real primitive, untouched;
- called by a controlled thread: the object's controlled *twin* for that run,
  made on first use and discarded when the run ends (its slot is restored by
  the run's Patcher, like every other patch).

The rule at the boundary: **a run starts from the real primitive's state and
what it does stays in the run.** The twin copies the state the real object has
when the run first touches it (an Event's flag, a Semaphore's value); nothing
the run does is written back, so a lock still held by a controlled thread when
the run ends leaves the real lock free, and every run starts alike. A real lock
*held* when a run first touches it (by a thread outside the run: the run can
never see it released) fails that run with an UncontrolledBlock naming the
object, instead of letting the two worlds disagree about who owns it.

Primitives made by the standard library or the test harness for their own use
(``threading.Event`` inside ``Thread``, ``queue.Queue``'s mutex) stay plain
real ones: the rule is the creating module, as for the fake clock.
"""

from __future__ import annotations

import os
import sys
import threading
from types import FrameType
from typing import Any, ClassVar

from pytest_concurrency import _realtime
from pytest_concurrency._patching import Patcher
from pytest_concurrency.world import scheduler as _scheduler
from pytest_concurrency.world.conditions import Barrier, Condition, Event
from pytest_concurrency.world.locks import Lock, RLock
from pytest_concurrency.world.reach import is_foreign_module
from pytest_concurrency.world.scheduler import Abort, RunFailure, Scheduler
from pytest_concurrency.world.semaphores import BoundedSemaphore, Semaphore

_get_ident = _realtime.get_ident
_RealLockType = type(_realtime.allocate_lock())
_RealRLockType = type(_realtime.RLock())


#: ident -> thread of a run's controlled threads still alive when their run ended (abandoned:
#: blocked where the run could not reach them). Such a thread may hold a twin; letting it
#: fall through to the real primitive would release a real lock it never acquired.
_ABANDONED: dict[int, threading.Thread] = {}


def _unwind_if_abandoned(ident: int) -> None:
    """An abandoned thread of a finished run touches a dual primitive: it unwinds instead."""
    thread = _ABANDONED.get(ident)
    if thread is not None and thread.ident == ident and _realtime.thread_is_alive(thread):
        raise Abort
    _ABANDONED.pop(ident, None)  # its ident now belongs to another thread


class _RunEnd:
    """A patch whose undoing, at the very end of a run, notes the threads it abandoned."""

    __slots__ = ("_sched",)

    def __init__(self) -> None:
        self._sched: Scheduler | None = None

    @property
    def sched(self) -> Scheduler | None:
        return self._sched

    @sched.setter
    def sched(self, value: Scheduler | None) -> None:
        ended, self._sched = self._sched, value
        if value is None and ended is not None:
            for ident, record in list(ended.by_ident.items()):
                if _realtime.thread_is_alive(record.thread):
                    _ABANDONED[ident] = record.thread
        for ident, thread in list(_ABANDONED.items()):  # forget the ones that have ended
            if not _realtime.thread_is_alive(thread):
                del _ABANDONED[ident]


def watch_run(patcher: Patcher, sched: Scheduler) -> None:
    """Called as a run is installed: when ``patcher`` restores, its abandoned threads are noted."""
    patcher.setattr(_RunEnd(), "sched", sched)


def _held_rlock(lock: Any) -> bool:
    if lock.acquire(False):
        lock.release()
        return False
    return True


class _Dual:
    """What every dual-mode primitive shares: the real object, the run's twin, where it was made."""

    __slots__ = ("__weakref__", "_real", "_site", "_twin")

    KIND: ClassVar[str] = "Primitive"

    def __init__(self, real: Any, site: object) -> None:
        self._real = real
        self._site = site
        #: (scheduler, twin) of the run that last used it; reset to None when that run ends
        self._twin: tuple[Scheduler, Any] | None = None

    def _side(self) -> Any:
        """What this call acts on: the run's twin for a controlled thread, else the real one."""
        sched = _scheduler._ACTIVE
        ident = _get_ident()
        if _ABANDONED and ident in _ABANDONED:
            _unwind_if_abandoned(ident)
        if sched is None or ident not in sched.by_ident:
            return self._real
        twin = self._twin
        if twin is not None and twin[0] is sched:
            return twin[1]
        return self._twin_for(sched)

    def twin(self) -> Any:
        """The controlled twin for the calling controlled thread's run (made if needed)."""
        sched = _scheduler.controlling_scheduler()
        if sched is None:
            raise RuntimeError("a dual-mode primitive has a twin only inside an interleavings run")
        twin = self._twin
        if twin is not None and twin[0] is sched:
            return twin[1]
        return self._twin_for(sched)

    def _twin_for(self, sched: Scheduler) -> Any:
        made = self._make(sched, self.label())
        # through the run's Patcher: restored to None (the twin discarded) when the run ends
        sched.run_patcher.setattr(self, "_twin", (sched, made))
        return made

    def _make(self, sched: Scheduler, name: str) -> Any:
        raise NotImplementedError

    def label(self) -> str:
        """``Lock created at app.py:12``: how traces and failures name its twins."""
        return f"{self.KIND} created at {self._site}"

    def _held_outside(self, sched: Scheduler) -> None:
        """End the run: the real object is held by a thread the run cannot see release it."""
        sched.fail(
            RunFailure(
                "uncontrolled",
                f"uncontrolled block: the {self.label()} was held by a thread outside the "
                "interleavings run when the run first used it; the run can never see it "
                "released. Make sure no thread outside the scenario holds it while the test "
                "explores",
                thread=threading.current_thread().name,
            )
        )
        raise Abort

    def __repr__(self) -> str:
        return f"<dual-mode {self.label()}: {self._real!r}>"


class DualLock(_Dual):
    """``threading.Lock`` in dual mode."""

    __slots__ = ()
    KIND = "Lock"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if _scheduler._ACTIVE is None and not _ABANDONED:  # the fast path: no run, no leftover
            return bool(self._real.acquire(blocking, timeout))
        return bool(self._side().acquire(blocking, timeout))

    def release(self) -> None:
        if _scheduler._ACTIVE is None and not _ABANDONED:
            self._real.release()
        else:
            self._side().release()

    def __enter__(self) -> bool:
        if _scheduler._ACTIVE is None and not _ABANDONED:  # inlined: the hot path
            return bool(self._real.acquire())
        return bool(self._side().acquire())

    def __exit__(self, *exc_info: object) -> None:
        if _scheduler._ACTIVE is None and not _ABANDONED:
            self._real.release()
        else:
            self._side().release()

    def locked(self) -> bool:
        return bool(self._side().locked())

    def _make(self, sched: Scheduler, name: str) -> Any:
        if self._real.locked():
            self._held_outside(sched)
        return Lock(sched, name)

    def _at_fork_reinit(self) -> None:
        self._real._at_fork_reinit()


class DualRLock(DualLock):
    """``threading.RLock`` in dual mode."""

    __slots__ = ()
    KIND = "RLock"

    def locked(self) -> bool:  # RLock has no locked() before 3.14; keep the real one's answer
        side = self._side()
        if isinstance(side, RLock):
            return side._owner is not None
        return _held_rlock(side)

    def _make(self, sched: Scheduler, name: str) -> Any:
        if _held_rlock(self._real):
            self._held_outside(sched)
        return RLock(sched, name)

    def _is_owned(self) -> bool:
        return bool(self._real._is_owned())


class DualCondition(_Dual):
    """``threading.Condition`` in dual mode; its twin is over its lock's twin."""

    __slots__ = ("_lock",)
    KIND = "Condition"

    def __init__(self, real: Any, site: object, lock: Any) -> None:
        super().__init__(real, site)
        #: the dual lock it was made with, if any (its twin is the twin Condition's lock)
        self._lock = lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return bool(self._side().acquire(blocking, timeout))

    def release(self) -> None:
        self._side().release()

    def __enter__(self) -> bool:
        return bool(self._side().__enter__())

    def __exit__(self, *exc_info: Any) -> None:
        self._side().__exit__(*exc_info)

    def wait(self, timeout: float | None = None) -> bool:
        return bool(self._side().wait(timeout))

    def wait_for(self, predicate: Any, timeout: float | None = None) -> Any:
        return self._side().wait_for(predicate, timeout)

    def notify(self, n: int = 1) -> None:
        self._side().notify(n)

    def notify_all(self) -> None:
        self._side().notify_all()

    notifyAll = notify_all

    def _make(self, sched: Scheduler, name: str) -> Any:
        lock = self._lock
        if isinstance(lock, _Dual):
            return Condition(sched, lock.twin(), name)
        inner = self._real._lock
        if type(inner) is _RealLockType:
            if inner.locked():
                self._held_outside(sched)
            return Condition(sched, Lock(sched, f"{name}._lock"), name)
        if _held_rlock(inner):
            self._held_outside(sched)
        return Condition(sched, RLock(sched, f"{name}._lock"), name)


class DualSemaphore(_Dual):
    """``threading.Semaphore`` in dual mode (the twin starts from the real value)."""

    __slots__ = ()
    KIND = "Semaphore"

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        return bool(self._side().acquire(blocking, timeout))

    def release(self, n: int = 1) -> None:
        self._side().release(n)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _make(self, sched: Scheduler, name: str) -> Any:
        return Semaphore(sched, self._real._value, name)


class DualBoundedSemaphore(DualSemaphore):
    """``threading.BoundedSemaphore`` in dual mode."""

    __slots__ = ()
    KIND = "BoundedSemaphore"

    def _make(self, sched: Scheduler, name: str) -> Any:
        twin = BoundedSemaphore(sched, self._real._initial_value, name)
        twin._value = self._real._value
        return twin


class DualEvent(_Dual):
    """``threading.Event`` in dual mode (the twin starts with the real flag)."""

    __slots__ = ()
    KIND = "Event"

    def is_set(self) -> bool:
        return bool(self._side().is_set())

    isSet = is_set

    def set(self) -> None:
        self._side().set()

    def clear(self) -> None:
        self._side().clear()

    def wait(self, timeout: float | None = None) -> bool:
        return bool(self._side().wait(timeout))

    def _make(self, sched: Scheduler, name: str) -> Any:
        return Event(sched, name, flag=self._real.is_set())


class DualBarrier(_Dual):
    """``threading.Barrier`` in dual mode (refused while real threads wait at it)."""

    __slots__ = ()
    KIND = "Barrier"

    def wait(self, timeout: float | None = None) -> int:
        return int(self._side().wait(timeout))

    def reset(self) -> None:
        self._side().reset()

    def abort(self) -> None:
        self._side().abort()

    @property
    def parties(self) -> int:
        return int(self._side().parties)

    @property
    def n_waiting(self) -> int:
        return int(self._side().n_waiting)

    @property
    def broken(self) -> bool:
        return bool(self._side().broken)

    def _make(self, sched: Scheduler, name: str) -> Any:
        real = self._real
        if real.n_waiting:
            self._held_outside(sched)
        return Barrier(sched, real.parties, real._action, real._timeout, name)


#: module name -> stdlib or harness (asked at every creation)
_FOREIGN: dict[str, bool] = {}


class _Site:
    """Where a dual-mode primitive was made, resolved to ``file.py:line`` only when shown.

    Reading ``frame.f_lineno`` scans the code's line table; creating a lock
    should not pay for a name that is only needed if a run uses it.
    """

    __slots__ = ("_code", "_offset")

    def __init__(self, frame: FrameType) -> None:
        self._code = frame.f_code
        self._offset = frame.f_lasti

    def __str__(self) -> str:
        line = next(
            (row for start, end, row in self._code.co_lines() if start <= self._offset < end),
            None,
        )
        return f"{os.path.basename(self._code.co_filename)}:{line or '?'}"


def _site(frame: FrameType) -> _Site:
    return _Site(frame)


def _foreign(module: str) -> bool:
    foreign = _FOREIGN.get(module)
    if foreign is None:
        foreign = _FOREIGN[module] = is_foreign_module(module)
    return foreign


def _lock_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return kwargs.get("lock", args[0] if args else None)


def _real_condition(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    lock = _lock_arg(args, kwargs)
    real_lock = lock._real if isinstance(lock, _Dual) else lock
    return _realtime.Condition(real_lock), lock


#: name -> (the real factory, the dual-mode class)
_KINDS: dict[str, tuple[Any, type[_Dual]]] = {
    "Lock": (_realtime.Lock, DualLock),
    "RLock": (_realtime.threading_RLock, DualRLock),
    "Condition": (_realtime.Condition, DualCondition),
    "Semaphore": (_realtime.Semaphore, DualSemaphore),
    "BoundedSemaphore": (_realtime.BoundedSemaphore, DualBoundedSemaphore),
    "Event": (_realtime.Event, DualEvent),
    "Barrier": (_realtime.Barrier, DualBarrier),
}


def create(name: str, frame: FrameType, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A new ``threading.<name>(*args)`` made by the code of ``frame``: dual-mode for user code.

    The standard library and the harness get the real object (their own
    primitives serve real threads); a Condition over a dual lock wraps the real
    lock and keeps the dual one for its twin.
    """
    real_factory, dual_kind = _KINDS[name]
    sched = _scheduler.controlling_scheduler()
    if sched is not None and not _scheduler.in_module_body():
        # made by a controlled thread inside a run (``from threading import Lock`` bound
        # this factory): it dies with the run, so it is simply a controlled one
        from pytest_concurrency.world.patching import THREADING_FACTORIES

        return THREADING_FACTORIES[name][1](*args, **kwargs)
    if _foreign(str(frame.f_globals.get("__name__", ""))):
        if name == "Condition":
            return _real_condition(args, kwargs)[0]
        return real_factory(*args, **kwargs)
    if name == "Condition":
        real, lock = _real_condition(args, kwargs)
        return DualCondition(real, _site(frame), lock)
    return dual_kind(real_factory(*args, **kwargs), _site(frame))


def twin_lock_argument(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``Condition(lock)`` arguments made inside a run: a dual-mode lock becomes its twin."""
    if "lock" in kwargs and isinstance(kwargs["lock"], _Dual):
        return args, {**kwargs, "lock": kwargs["lock"].twin()}
    if args and isinstance(args[0], _Dual):
        return (args[0].twin(), *args[1:]), kwargs
    return args, kwargs


class _DualFactory(type):
    """Metaclass of the factories installed as ``threading.Lock`` and friends.

    Calling the factory itself makes a dual-mode object; a class the code under
    test derived from it (``class MyEvent(threading.Event)``) is built normally,
    as the real class it extends. ``isinstance`` accepts real, dual-mode and
    controlled objects of the kind.
    """

    _kind: str
    _types: tuple[type, ...]

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if "_types" not in cls.__dict__:  # a subclass the code under test defined
            return super().__call__(*args, **kwargs)
        return create(cls._kind, sys._getframe(1), args, kwargs)

    def __instancecheck__(cls, instance: Any) -> bool:
        if "_types" not in cls.__dict__:
            return super().__instancecheck__(instance)
        return isinstance(instance, cls._types)

    def __subclasscheck__(cls, subclass: type) -> bool:
        if "_types" not in cls.__dict__:
            return super().__subclasscheck__(subclass)
        return super().__subclasscheck__(subclass) or issubclass(subclass, cls._types)


def _factory(name: str) -> type:
    real, dual_kind = _KINDS[name]
    controlled = {
        "Lock": Lock,
        "RLock": RLock,
        "Condition": Condition,
        "Semaphore": Semaphore,
        "BoundedSemaphore": BoundedSemaphore,
        "Event": Event,
        "Barrier": Barrier,
    }[name]
    real_type = real if isinstance(real, type) else type(real())
    # the classes can be derived from (as threading's can); Lock and RLock are not classes there
    bases = (real,) if isinstance(real, type) and real is not _RealLockType else ()
    namespace = {
        "_kind": name,
        "_types": (real_type, dual_kind, controlled),
        "__module__": "threading",
        "__qualname__": name,
        "__doc__": f"pytest-concurrency dual-mode {name}: real outside runs, controlled inside.",
    }
    return _DualFactory(name, bases, namespace)


#: the factory installed for each ``threading`` name
FACTORIES: dict[str, type] = {name: _factory(name) for name in _KINDS}

_installed: Patcher | None = None
_users = 0


def install() -> None:
    """Make ``threading``'s primitives dual-mode until :func:`uninstall` (nested calls count)."""
    global _installed, _users
    if _installed is None:
        patcher = Patcher()
        try:
            for name, factory in FACTORIES.items():
                patcher.setattr(threading, name, factory)
        except BaseException:
            patcher.restore()
            raise
        _installed = patcher
    _users += 1


def uninstall() -> None:
    """Undo one :func:`install`; the last one puts the real classes back exactly."""
    global _installed, _users
    if _users == 0:
        return
    _users -= 1
    if _users == 0 and _installed is not None:
        patcher, _installed = _installed, None
        patcher.restore()


def installed() -> bool:
    """True while the session-wide dual-mode primitives are in place."""
    return _installed is not None


def is_dual(value: Any) -> bool:
    """True for a dual-mode primitive (it controls itself inside runs: never swap it)."""
    return isinstance(value, _Dual)


__all__ = [
    "FACTORIES",
    "DualBarrier",
    "DualBoundedSemaphore",
    "DualCondition",
    "DualEvent",
    "DualLock",
    "DualRLock",
    "DualSemaphore",
    "create",
    "install",
    "installed",
    "is_dual",
    "twin_lock_argument",
    "uninstall",
    "watch_run",
]
