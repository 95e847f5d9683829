"""Install the controlled stand-ins for one run, and swap pre-existing objects (``patch()``).

Everything goes through the run's :class:`~pytest_concurrency._patching.Patcher`,
so it is all restored after the run whatever happened. The stand-ins for
``threading.Lock`` and friends are *factories*: called from a controlled thread
they build a controlled primitive; from any other thread (pytest, coverage,
pytest-timeout) or from module-level code being imported (whose globals outlive
the run) they build a real one. ``isinstance(x, threading.Lock)`` keeps working
for both kinds. ``threading``'s own uses of its ``_time`` are all inside the
classes replaced here, so it needs no patch; ``queue.time`` does.

Objects created *before* the run -- a module-level ``_lock = threading.Lock()``,
names imported with ``from threading import Lock`` or ``from time import
sleep`` -- are invisible to those factories. :class:`PatchPlan` finds them in a
module, class or object once, and swaps in fresh controlled equivalents (same
kind, same state) for every run.
"""

from __future__ import annotations

import functools
import queue
import sys
import threading
import time
import types
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency._patching import Patcher
from pytest_concurrency.world import dual, escapes, executor, reach, scheduler, threads, vtime
from pytest_concurrency.world.conditions import Barrier, Condition, Event
from pytest_concurrency.world.locks import Lock, RLock, _OwnedLock
from pytest_concurrency.world.queues import SimpleQueue
from pytest_concurrency.world.semaphores import BoundedSemaphore, Semaphore


class _Factory(type):
    """Metaclass of the stand-ins installed as ``threading.Lock`` and friends."""

    _real: Any
    _controlled: type
    _types: tuple[type, ...]

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        sched = scheduler.controlling_scheduler()
        if sched is None or scheduler.in_module_body():
            if dual.installed() and cls.__name__ in dual.FACTORIES:
                # the session-wide opt-in: what outlives the run is dual-mode, as outside runs
                return dual.create(cls.__name__, sys._getframe(1), args, kwargs)
            return cls._real(*args, **kwargs)
        if cls.__name__ == "Condition":  # over a dual-mode lock: over its twin for this run
            args, kwargs = dual.twin_lock_argument(args, kwargs)
        return cls._controlled(sched, *args, **kwargs)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._types)


def _factory(name: str, real: Any, controlled: type, real_type: type) -> _Factory:
    namespace = {
        "_real": real,
        "_controlled": controlled,
        "_types": (real_type, controlled),
        "__module__": real_type.__module__,
        "__doc__": f"pytest-concurrency stand-in for {name}: controlled inside a run.",
    }
    return _Factory(name, (), namespace)


# the real classes, captured when the package was first imported: before any run
# or the session-wide dual-mode primitives replace the names in ``threading``
_RealCondition = _realtime.Condition
_RealSemaphore = _realtime.Semaphore
_RealBoundedSemaphore = _realtime.BoundedSemaphore
_RealEvent = _realtime.Event
_RealBarrier = _realtime.Barrier
_RealLockType = type(_realtime.allocate_lock())
_RealRLockType = type(_realtime.RLock())
_RLOCK_TYPES: tuple[type, ...] = (_RealRLockType, threading._PyRLock)  # type: ignore[attr-defined]

#: the stand-in for each ``threading`` name, and the real object it stands for
THREADING_FACTORIES: dict[str, tuple[Any, _Factory]] = {
    name: (real, _factory(name, real, controlled, real_type))
    for name, real, controlled, real_type in (
        ("Lock", _realtime.Lock, Lock, _RealLockType),
        ("RLock", _realtime.threading_RLock, RLock, _RealRLockType),
        ("Condition", _RealCondition, Condition, _RealCondition),
        ("Semaphore", _RealSemaphore, Semaphore, _RealSemaphore),
        ("BoundedSemaphore", _RealBoundedSemaphore, BoundedSemaphore, _RealBoundedSemaphore),
        ("Event", _RealEvent, Event, _RealEvent),
        ("Barrier", _RealBarrier, Barrier, _RealBarrier),
    )
}
_SIMPLE_QUEUE = _factory("SimpleQueue", queue.SimpleQueue, SimpleQueue, queue.SimpleQueue)

#: id(real object) -> (real object, stand-in): for names imported before the run
_STAND_IN_BY_ID: dict[int, tuple[Any, Any]] = {
    id(real): (real, factory) for real, factory in THREADING_FACTORIES.values()
}
_STAND_IN_BY_ID.update({id(real): (real, stand_in) for real, stand_in in vtime.BY_REAL.items()})

#: modules whose globals the run already controls; patching them would swap their internals
_REFUSED_MODULES = frozenset({"threading", "time", "queue", "_thread", "concurrent.futures.thread"})


def install(patcher: Patcher, sched: scheduler.Scheduler, plans: tuple[PatchPlan, ...]) -> None:
    """Make the run's world controlled: every swap recorded in ``patcher``."""
    patcher.setattr(scheduler, "_ACTIVE", sched)
    for name, (_real, factory) in THREADING_FACTORIES.items():
        patcher.setattr(threading, name, factory)
    patcher.setattr(queue, "SimpleQueue", _SIMPLE_QUEUE)
    patcher.setattr(queue, "time", vtime.monotonic)
    for name, stand_in in vtime.STAND_INS.items():
        patcher.setattr(time, name, stand_in)
    threads.install(patcher)
    escapes.install(patcher)
    executor.install(patcher, sched)
    dual.watch_run(patcher, sched)
    made: dict[int, Any] = {}
    patcher.setattr(sys.modules[__name__], "_RUN_TWINS", made)
    patcher.setattr(sys.modules[__name__], "RUN_PLANS", plans)
    for plan in plans:
        plan.apply(patcher, sched, made)


#: the patch plans of the run in progress (set by :func:`install`), for the failure advice
RUN_PLANS: tuple[PatchPlan, ...] = ()


def _prefix(target: Any) -> str:
    if isinstance(target, types.ModuleType):
        return target.__name__
    if isinstance(target, (type, types.FunctionType)):
        return f"{target.__module__}.{target.__qualname__}"
    if isinstance(target, functools.partial):
        return f"partial({_prefix(target.func)})"
    if isinstance(target, types.MethodType):
        return _prefix(target.__func__)
    wrapped = getattr(target, "__wrapped__", None)
    if isinstance(wrapped, types.FunctionType):  # a wrapper object that calls itself its function
        return f"{wrapped.__module__}.{wrapped.__qualname__}"
    return type(target).__name__


def _rlock_held(lock: Any) -> bool:
    if lock._is_owned():
        return True
    if lock.acquire(False):
        lock.release()
        return False
    return True


class PatchPlan:
    """The pre-existing primitives reachable from one target, swapped for every run.

    The target is a module, class, function, ``functools.partial``, bound
    method or object; its primitives are found where they hide (globals,
    attributes, closure cells, defaults, ``__wrapped__`` chains, wrapper
    objects: see :mod:`.reach`). Within one run every slot holding the same
    primitive gets the same controlled twin, whichever plan found it.
    """

    def __init__(self, target: Any) -> None:
        if isinstance(target, types.ModuleType) and target.__name__ in _REFUSED_MODULES:
            raise ValueError(
                f"patch({target.__name__}): that module is already controlled during a run; "
                "patch the module of the code under test instead"
            )
        if isinstance(target, _NOT_TARGETS):
            raise TypeError(
                "patch(target): expected a module, class or object (a function, a "
                f"functools.partial, a method, a wrapper), got {type(target).__name__}"
            )
        self.target = target
        self.prefix = _prefix(target)
        self.slots = tuple(reach.find_slots(target, self.prefix, _swappable))
        #: the module (name) whose code the target belongs to, for the failure advice
        self.module = _module_name(target)
        if not self.slots:
            raise ValueError(
                f"patch({self.prefix}): found no lock, condition, semaphore, event, barrier, "
                "threading factory or time function to swap in it (nor in the closures, "
                "defaults and attributes of what it holds)"
            )

    @property
    def names(self) -> tuple[str, ...]:
        """Where each swapped object is (``app._lock``, ``app.f.<closure lock>``)."""
        return tuple(slot.where for slot in self.slots)

    def apply(
        self, patcher: Patcher, sched: scheduler.Scheduler, made: dict[int, Any] | None = None
    ) -> None:
        """Swap controlled twins in for one run (restored by ``patcher``).

        ``made`` maps id(original) to its twin for the whole run (default: the
        run's own map), so one primitive is one twin wherever it is found.
        """
        twins = _RUN_TWINS if made is None else made
        for slot in self.slots:
            try:
                original = slot.get()
            except (AttributeError, ValueError, IndexError, KeyError, TypeError):
                continue  # the slot is gone or emptied since the plan was made
            if not _swappable(original) or dual.is_dual(original):
                continue  # changed since the plan was made, or already controllable
            slot.swap(patcher, self._stand_in(original, slot.where, sched, twins))

    def _stand_in(
        self, original: Any, name: str, sched: scheduler.Scheduler, made: dict[int, Any]
    ) -> Any:
        known = _STAND_IN_BY_ID.get(id(original))
        if known is not None and known[0] is original:
            return known[1]
        if id(original) in made:
            return made[id(original)][1]
        kind = type(original)
        stand_in: Any
        if kind is _RealLockType or kind in _RLOCK_TYPES:
            held = original.locked() if kind is _RealLockType else _rlock_held(original)
            if held:
                raise RuntimeError(
                    f"cannot swap {name} for this run: it is held by a thread outside the run"
                )
            stand_in = Lock(sched, name) if kind is _RealLockType else RLock(sched, name)
        elif kind is _RealCondition:
            inner = original._lock
            if dual.is_dual(inner):
                lock = inner.twin()
            else:
                lock = self._stand_in(inner, f"{name}._lock", sched, made)
            assert isinstance(lock, _OwnedLock)
            stand_in = Condition(sched, lock, name)
        elif kind is _RealBoundedSemaphore:
            stand_in = BoundedSemaphore(sched, original._initial_value, name)
            stand_in._value = original._value
        elif kind is _RealSemaphore:
            stand_in = Semaphore(sched, original._value, name)
        elif kind is _RealEvent:
            stand_in = Event(sched, name, flag=original.is_set())
        else:
            assert kind is _RealBarrier
            stand_in = Barrier(sched, original.parties, original._action, original._timeout, name)
        # the original is kept alive with its twin, so its id cannot be reused within the run
        made[id(original)] = (original, stand_in)
        return stand_in


#: id(original) -> (original, twin) for the run in progress; swapped in by :func:`install`
_RUN_TWINS: dict[int, Any] = {}

#: what can never be a patch target
_NOT_TARGETS: tuple[type, ...] = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    tuple,
    list,
    dict,
    set,
    frozenset,
)


def _module_name(target: Any) -> str:
    if isinstance(target, types.ModuleType):
        return target.__name__
    module = getattr(target, "__module__", None)
    if isinstance(module, str):
        return module
    func = getattr(target, "func", None) or getattr(target, "__func__", None)
    return str(getattr(func, "__module__", "") or type(target).__module__)


def patched_modules(plans: tuple[PatchPlan, ...]) -> frozenset[str]:
    """The modules the plans patched as a whole (for advice that must not repeat them)."""
    return frozenset(
        plan.target.__name__ for plan in plans if isinstance(plan.target, types.ModuleType)
    )


_SWAPPABLE_TYPES: tuple[type, ...] = (
    _RealLockType,
    *_RLOCK_TYPES,
    _RealCondition,
    _RealSemaphore,
    _RealBoundedSemaphore,
    _RealEvent,
    _RealBarrier,
)


def _swappable(value: Any) -> bool:
    if dual.is_dual(value):  # already controllable: found, and left as it is
        return True
    known = _STAND_IN_BY_ID.get(id(value))
    if known is not None and known[0] is value:
        return True
    return type(value) in _SWAPPABLE_TYPES
