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

import queue
import threading
import time
import types
from typing import Any

from pytest_concurrency import _realtime
from pytest_concurrency._patching import Patcher
from pytest_concurrency.world import escapes, executor, scheduler, threads, vtime
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
            return cls._real(*args, **kwargs)
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


# the real classes, captured before any run patches the names in ``threading``
_RealCondition = threading.Condition
_RealSemaphore = threading.Semaphore
_RealBoundedSemaphore = threading.BoundedSemaphore
_RealEvent = threading.Event
_RealBarrier = threading.Barrier
_RealLockType = type(_realtime.allocate_lock())
_RealRLockType = type(threading.RLock())
_RLOCK_TYPES: tuple[type, ...] = (_RealRLockType, threading._PyRLock)  # type: ignore[attr-defined]

#: the stand-in for each ``threading`` name, and the real object it stands for
THREADING_FACTORIES: dict[str, tuple[Any, _Factory]] = {
    name: (real, _factory(name, real, controlled, real_type))
    for name, real, controlled, real_type in (
        ("Lock", threading.Lock, Lock, _RealLockType),
        ("RLock", threading.RLock, RLock, _RealRLockType),
        ("Condition", threading.Condition, Condition, threading.Condition),
        ("Semaphore", threading.Semaphore, Semaphore, threading.Semaphore),
        (
            "BoundedSemaphore",
            threading.BoundedSemaphore,
            BoundedSemaphore,
            threading.BoundedSemaphore,
        ),
        ("Event", threading.Event, Event, threading.Event),
        ("Barrier", threading.Barrier, Barrier, threading.Barrier),
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
    for plan in plans:
        plan.apply(patcher, sched)


def _prefix(target: Any) -> str:
    if isinstance(target, types.ModuleType):
        return target.__name__
    if isinstance(target, type):
        return target.__qualname__
    return type(target).__name__


def _rlock_held(lock: Any) -> bool:
    if lock._is_owned():
        return True
    if lock.acquire(False):
        lock.release()
        return False
    return True


class PatchPlan:
    """The pre-existing primitives of one module, class or object, swapped for every run."""

    def __init__(self, target: Any) -> None:
        if isinstance(target, types.ModuleType) and target.__name__ in _REFUSED_MODULES:
            raise ValueError(
                f"patch({target.__name__}): that module is already controlled during a run; "
                "patch the module of the code under test instead"
            )
        try:
            namespace = vars(target)
        except TypeError:
            raise TypeError(
                f"patch(target): expected a module, class or object with a __dict__, "
                f"got {type(target).__name__}"
            ) from None
        self.target = target
        self.prefix = _prefix(target)
        self.names = tuple(name for name, value in namespace.items() if _swappable(value))
        if not self.names:
            raise ValueError(
                f"patch({self.prefix}): found no lock, condition, semaphore, event, barrier, "
                "threading factory or time function to swap in it"
            )

    def apply(self, patcher: Patcher, sched: scheduler.Scheduler) -> None:
        """Swap fresh controlled equivalents in for one run (restored by ``patcher``)."""
        made: dict[int, Any] = {}
        namespace = vars(self.target)
        for name in self.names:
            original = namespace.get(name)
            if not _swappable(original):  # changed since the plan was made: leave it alone
                continue
            patcher.setattr(
                self.target, name, self._stand_in(original, f"{self.prefix}.{name}", sched, made)
            )

    def _stand_in(
        self, original: Any, name: str, sched: scheduler.Scheduler, made: dict[int, Any]
    ) -> Any:
        known = _STAND_IN_BY_ID.get(id(original))
        if known is not None and known[0] is original:
            return known[1]
        if id(original) in made:
            return made[id(original)]
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
            lock = made.get(id(inner))
            if lock is None:
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
        made[id(original)] = stand_in
        return stand_in


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
    known = _STAND_IN_BY_ID.get(id(value))
    if known is not None and known[0] is value:
        return True
    return type(value) in _SWAPPABLE_TYPES
