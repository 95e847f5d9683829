"""The likely fixes of an UncontrolledBlock: which primitive, held where, and what to do.

A thread stuck where the scheduler cannot see it is most often blocked on a
real primitive created before the run. This module finds it in the stuck
thread's frames (a local or a global its code names), finds which objects hold
it (the patch walker run over the loaded modules of the code under test: a
module global, a closure cell, a decorator wrapper's attribute, ...), and
writes fixes that fit: the module to patch -- or, when that module is already
patched and the primitive hides deeper, the specific object to patch and the
session-wide opt-in. It never repeats a fix the exploration already applied.
"""

from __future__ import annotations

import gc
import sys
import types
from types import FrameType
from typing import Any

from pytest_concurrency.world import patching, reach

#: what a primitive is called in the advice
_KIND_NAMES = {
    "lock": "lock",
    "RLock": "lock",
    "Condition": "condition",
    "Semaphore": "semaphore",
    "BoundedSemaphore": "semaphore",
    "Event": "event",
    "Barrier": "barrier",
}

_OPT_IN = (
    "run the session with --interleavings-controllable-locks (or the ini option "
    "interleavings_controllable_locks = true): locks made at import are then controlled "
    "inside runs wherever they are kept (closures, decorator wrappers, class attributes)"
)

_GENERIC = """  - names bound at import with `from threading import Lock` or `from time import
    sleep`: patch that module the same way
  - a queue.Queue or an executor created before the run: create it inside the scenario
  - real I/O (sockets, subprocesses, blocking files): replace it with a fake
  - busy-waiting on time.monotonic(): virtual time only moves when every thread is blocked;
    wait on an Event or Condition with a timeout instead
  - a legitimately long computation between two synchronisation points: raise
    uncontrolled_timeout"""


def _is_real_primitive(value: Any) -> bool:
    return type(value) in patching._SWAPPABLE_TYPES


def blocked_on(frame: FrameType | None) -> list[Any]:
    """Real primitives the stuck thread's frames refer to, innermost first, held ones first."""
    found: list[Any] = []
    seen: set[int] = set()
    while frame is not None:
        if reach.is_harness_module(str(frame.f_globals.get("__name__", ""))):
            frame = frame.f_back  # the harness's own primitives are not the user's problem
            continue
        values = list(frame.f_locals.values())
        names = frame.f_code.co_names
        for value in list(values):  # ``with self._lock:``: attributes the code names
            namespace = getattr(value, "__dict__", None) if not _is_real_primitive(value) else None
            if isinstance(namespace, dict):
                values += [namespace[name] for name in names if name in namespace]
        named = [frame.f_globals[name] for name in names if name in frame.f_globals]
        values += named
        for value in named:  # ``with _LOCKS[key]:``: the items of a global container
            if isinstance(value, dict):
                values += list(value.values())[:50]
            elif isinstance(value, (list, tuple)):
                values += list(value)[:50]
        for value in values:
            if _is_real_primitive(value) and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
        frame = frame.f_back
    return sorted(found, key=lambda value: not _held(value))  # stable: frame order kept


def _held(value: Any) -> bool:
    locked = getattr(value, "locked", None)
    return bool(locked()) if callable(locked) else False


def _user_modules() -> list[tuple[Any, str]]:
    modules = []
    for name, module in list(sys.modules.items()):
        if isinstance(module, types.ModuleType) and not reach.is_foreign_module(name):
            modules.append((module, name))
    return modules


def _kind(value: Any) -> str:
    return _KIND_NAMES.get(type(value).__name__, "primitive")


def uncontrolled_fixes(frame: FrameType | None, plans: tuple[Any, ...]) -> str:
    """The "likely fixes" block of an UncontrolledBlock's message."""
    patched = patching.patched_modules(plans)
    candidates = blocked_on(frame)
    modules = _user_modules()
    for value in candidates:
        holders = reach.holders_of(value, modules)
        if holders:
            return _found(value, holders, patched)
    for value in candidates:
        functions = _closures_holding(value)
        if functions:
            return _in_closures(value, functions)
    lines = ["likely fixes:"]
    if candidates:
        kind = _kind(candidates[0])
        lines.append(
            f"  - the thread waits on a real {kind} created before the run, which none of the "
            "loaded modules of the code under test holds where it can be swapped: create it "
            "inside the scenario, or"
        )
        lines.append(f"    {_OPT_IN}")
    elif patched:
        lines.append(
            "  - a lock, condition, semaphore or event created before the run and held "
            f"outside what was patched ({', '.join(sorted(patched))}): pass the module or object "
            "that holds it to interleavings.patch(...) too, or"
        )
        lines.append(f"    {_OPT_IN}")
    else:
        lines.append(
            "  - a lock, condition, semaphore or event created before the run (e.g. at module "
            "level: `_lock = threading.Lock()`) is invisible to the scheduler: pass its module "
            "or object to interleavings.patch(...) (or explore(..., patch=[...])), or"
        )
        lines.append(f"    {_OPT_IN}")
    return "\n".join(lines) + "\n" + _GENERIC


def _closures_holding(value: Any) -> list[str]:
    """Functions (not reachable from any module: a test's local scenario) closing over ``value``.

    Three passes over the heap at most, whatever is found (each ``get_referrers``
    call walks every tracked object: in a large test process one is costly).
    """
    cells = [ref for ref in gc.get_referrers(value) if type(ref) is types.CellType]
    if not cells:
        return []
    closures = [ref for ref in gc.get_referrers(*cells) if isinstance(ref, tuple)]
    if not closures:
        return []
    names = [
        f"{func.__module__}.{func.__qualname__}"
        for func in gc.get_referrers(*closures)
        if isinstance(func, types.FunctionType)
        and any(func.__closure__ is closure for closure in closures)
    ]
    return sorted(set(names))


def _in_closures(value: Any, functions: list[str]) -> str:
    kind = _kind(value)
    places = "; ".join(f"the closure of {name}" for name in functions)
    return (
        f"the {kind} it is blocked on was created before the run and is held in: {places}\n\n"
        "likely fixes:\n"
        f"  - create the {kind} inside the scenario, or pass the function that holds it to "
        f"interleavings.patch(...) (or explore(..., patch=[...])), or\n"
        f"    {_OPT_IN}\n{_GENERIC}"
    )


def _found(value: Any, holders: list[reach.Slot], patched: frozenset[str]) -> str:
    kind = _kind(value)
    places = "; ".join(slot.holder for slot in holders)
    lines = [
        f"the {kind} it is blocked on was created before the run and is held in: {places}",
        "",
        "likely fixes:",
    ]
    modules = sorted({_module_of(slot) for slot in holders})
    fresh = [module for module in modules if module not in patched]
    if all(not slot.swappable for slot in holders):
        lines.append(
            f"  - patch() does not swap primitives kept inside dicts, lists or tuples: create "
            f"the {kind} inside the scenario, or"
        )
    elif fresh:
        targets = ", ".join(fresh)
        lines.append(
            f"  - pass {targets} to interleavings.patch(...) (or explore(..., patch=[{targets}])): "
            f"its {kind} is then swapped for a controlled one wherever it is kept, or"
        )
    else:
        objects = ", ".join(sorted({_object_of(slot) for slot in holders}))
        lines.append(
            f"  - {', '.join(modules)} is patched already, but this {kind} is kept out of its "
            f"reach: pass the object that holds it to interleavings.patch(...) ({objects}), or"
        )
    lines.append(f"    {_OPT_IN}")
    return "\n".join(lines) + "\n" + _GENERIC


def _module_of(slot: reach.Slot) -> str:
    return slot.root or slot.where.split(".", 1)[0]


def _object_of(slot: reach.Slot) -> str:
    owner = slot.owner
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    return slot.where.rsplit(".", 1)[0].split(".<", 1)[0]
