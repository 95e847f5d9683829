"""Memory granularity: a scheduling point before each access to shared memory, naming it.

At ``granularity="memory"`` the traced code's instructions are watched as at
opcode granularity, but only those that touch memory another thread could
share are points: attribute loads, stores and deletes; subscript loads, stores
and deletes, ``in`` tests, and each step of a loop over a container; global and
closure cell loads and stores; and the methods of the builtin containers
(``dict``, ``list``, ``set``, ``deque``, ...), at the call. Each point carries
*what* it touches -- the object and attribute name, the container or one of
its items (see :mod:`.containers`) -- so that a partial-order reduction
(:mod:`.dpor`) can tell that two accesses conflict (one of them writes the same
location) or commute. A method of an object whose code no point sees (an
untraced class, a C type) counts as a write of all of the object.

Which object an instruction touches is found by a small abstract
interpretation of the code object's bytecode (:mod:`.bytecode`): for each
memory instruction it records how its operand was produced -- a local, a
global, a closure cell, a constant, or an attribute of one of those -- and the
point evaluates that recipe on the running frame (attribute steps read only an
instance's ``__dict__``, so no property or ``__getattr__`` runs). Where the
recipe is unknown (the operand is a call's result, say) the access is keyed by
its attribute name alone, or by "some container": coarser, so two accesses may
be judged conflicting when they are not, never the other way round. What a
method load or a loop's ``GET_ITER`` found is carried to its call or its
steps (:data:`Receivers`), since a path may name another object by then.

Globals and closure cells that hold modules, functions or classes are taken as
constant (rebinding a function while another thread calls it is out of scope),
which keeps every call of a helper function from being a point.
"""

from __future__ import annotations

import builtins
import collections
import gc
import re
from collections.abc import Callable
from types import (
    BuiltinFunctionType,
    ClassMethodDescriptorType,
    CodeType,
    FrameType,
    FunctionType,
    GetSetDescriptorType,
    MemberDescriptorType,
    MethodDescriptorType,
    ModuleType,
    WrapperDescriptorType,
)
from typing import TYPE_CHECKING

from pytest_concurrency import _callsite, _realtime
from pytest_concurrency.world.bytecode import Recipe, Spec, accesses_of, stable_key
from pytest_concurrency.world.containers import (
    CONTAINERS,
    MUTATORS,
    NO_KEY,
    container_access,
    decide,
)
from pytest_concurrency.world.events import READ, WRITE
from pytest_concurrency.world.locations import CELL, ITEMS, STATE, is_item

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler

__all__ = [
    "CONTAINERS",
    "ITEMS",
    "MUTATORS",
    "STATE",
    "MemoryAccess",
    "Receivers",
    "Spec",
    "accesses_of",
    "describe",
    "memory_point",
    "resolve",
]

_get_ident = _realtime.get_ident

#: (object or None, part, mode) triples: what one access touches; the mode may be one
#: to decide when it runs (see .containers)
Touched = list[tuple[object, object, str]]
#: one run's method loads waiting for their call: (id(frame), call offset) -> (frame, receiver)
Receivers = dict[tuple[int, int], tuple[FrameType, object]]

_CONSTANT_TYPES = (ModuleType, FunctionType, BuiltinFunctionType, type)
#: C types whose methods change nothing (their instances are immutable)
_IMMUTABLE: frozenset[type] = frozenset(
    {str, bytes, int, float, complex, bool, tuple, frozenset, range, type(None), re.Pattern}
)
_MISSING = object()


class MemoryAccess:
    """What one memory point touches: (object or location, part, mode) triples.

    ``obj`` is the object itself (kept alive for the run, so its identity
    cannot be reused), or None where it is unknown and the part alone keys it.
    A mode may depend on the state the access runs in (``setdefault`` of a key
    already present only reads, see :mod:`.containers`): :meth:`settle` decides
    it once the access is about to run -- when its thread has been chosen and
    nothing else runs before it -- and keeps that answer.
    """

    __slots__ = ("_settled", "accesses", "where")

    #: an access of the user's memory (a synchronisation object's own state is not)
    counted = True

    def __init__(self, accesses: Touched, where: str = "") -> None:
        self.accesses = accesses
        #: the user's ``file:line`` of the access (only when a failure is traced)
        self.where = where
        self._settled: Touched | None = None

    def settle(self) -> Touched:
        """What the access touches, decided now that it is about to run."""
        settled = self._settled
        if settled is None:
            settled = self._settled = self.predict()
        return settled

    def predict(self) -> Touched:
        """What the access would touch if it ran now (it may not run yet)."""
        if self._settled is not None:
            return self._settled
        return [(obj, part, decide(obj, part, mode)) for obj, part, mode in self.accesses]

    def label(self) -> str:
        return ", ".join(
            f"{'write' if mode == WRITE else 'read'} {describe(obj, part)}"
            for obj, part, mode in self.predict()
        )

    def holder(self) -> None:
        return None


def _escaping(spec: Spec, value: object) -> Touched:
    """A container loaded to be passed on: it may be changed where no point sees it."""
    if spec.escapes and isinstance(value, CONTAINERS):
        return [(value, ITEMS, WRITE)]
    return []


def resolve(
    spec: Spec,
    frame: FrameType,
    traced: Callable[[CodeType], bool] | None = None,
    receiver: object = _MISSING,
) -> Touched | None:
    """What ``spec`` touches in ``frame`` now; None when it is no shared access.

    ``traced`` tells whether a code object is traced: a method call on an
    object whose method is not (a library class, a C type) may change any of
    the object's state where no point sees it, so it counts as a write of all
    of it (``STATE``), which conflicts with every other access to that object.

    A container method whose call was linked to its load (see :mod:`.bytecode`)
    is an access at the call, on ``receiver`` -- the container the load found --
    or, when the load was not seen, on what the load's operand names now.
    """
    kind = spec.kind
    if kind == "global":
        value = frame.f_globals.get(spec.name, _MISSING)
        if value is _MISSING:
            return None if spec.mode == READ else [(frame.f_globals, spec.name, spec.mode)]
        if spec.mode == READ and isinstance(value, _CONSTANT_TYPES):
            return None
        return [(frame.f_globals, spec.name, spec.mode), *_escaping(spec, value)]
    if kind == "cell":
        value = frame.f_locals.get(spec.name, _MISSING)
        if spec.mode == READ and isinstance(value, _CONSTANT_TYPES):
            return None
        # a closure cell: keyed by its name in the code that uses it (coarse, never unsound
        # within one function; cells of one name in different functions do not meet)
        return [(None, CELL + spec.name, spec.mode), *_escaping(spec, value)]
    if kind == "iter":
        iterated = _iterated(_evaluate(spec.operand, frame) if receiver is _MISSING else receiver)
        return None if iterated is None else [(iterated, ITEMS, READ)]
    if kind == "call":
        obj = _evaluate(spec.operand, frame) if receiver is _MISSING else receiver
        if not isinstance(obj, CONTAINERS):
            return None  # not a container: the load was the access
        part, mode = container_access(obj, spec.name, _key(spec, frame))
        return [(obj, part, mode)]
    obj = _evaluate(spec.operand, frame)
    if kind == "item":
        if obj is None:
            return [(None, ITEMS, spec.mode)]
        if (
            traced is not None
            and not isinstance(obj, CONTAINERS)
            and _opaque_method(obj, spec.name, traced)
        ):
            return [(obj, STATE, WRITE)]  # ``__getitem__`` of a class whose code is not traced
        part, mode = container_access(obj, spec.name, _key(spec, frame))
        return [(obj, part, mode)]
    if kind == "method":
        if isinstance(obj, CONTAINERS) and spec.link >= 0:
            return None  # the access is made at the call, where the key is known
        if obj is None:
            return [(None, spec.name, READ)]
        if isinstance(obj, _CONSTANT_TYPES) or type(obj) in _IMMUTABLE:
            return None
        return _method_effect(obj, spec.name, traced) or [(obj, spec.name, READ)]
    if obj is not None and isinstance(obj, ModuleType) and spec.mode == READ:
        value = obj.__dict__.get(spec.name)
        if isinstance(value, _CONSTANT_TYPES):
            return None
    if spec.mode == READ and obj is not None and not isinstance(obj, (type, ModuleType)):
        where = _defined_by(obj, spec.name)
        if where is not None:
            if isinstance(where, _METHOD_TYPES):
                # a method loaded as a value (a keyword call on 3.10, ``f = obj.m``): no
                # call of it is linked, so the load stands for the call, as a method load
                # does; a method whose code is traced has points of its own
                return _method_effect(obj, spec.name, traced)
            # class-level data: it may be shadowed by an instance write of the same name
            return [(None, spec.name, READ)]
    found: Touched = [(obj, spec.name, spec.mode)]
    if spec.mode == READ and obj is not None:
        found.extend(_escaping(spec, _instance_attribute(obj, spec.name)))
    return found


#: one of each builtin container's iterators and dict views
_ITERATOR_SAMPLES: tuple[object, ...] = (
    iter({}),
    iter({}.values()),
    iter({}.items()),
    iter([]),
    reversed([]),
    iter(set()),
    iter(collections.deque()),
    reversed(collections.deque()),
    iter(collections.OrderedDict()),
    iter(bytearray()),
    {}.keys(),
    {}.values(),
    {}.items(),
)
#: their types: each refers to its container
_ITERATORS: frozenset[type] = frozenset(type(sample) for sample in _ITERATOR_SAMPLES)


def _iterated(obj: object) -> object:
    """The container a loop over ``obj`` reads at each step, if it is a builtin one's.

    A builtin container's iterator (or a dict view) keeps a reference to its
    container and nothing else the garbage collector knows of.
    """
    if isinstance(obj, CONTAINERS):
        return obj
    if type(obj) in _ITERATORS:
        for referent in gc.get_referents(obj):
            if isinstance(referent, CONTAINERS):
                return referent
    return None


def _key(spec: Spec, frame: FrameType) -> object:
    """The key operand of an item access or a call, when it is known at the point."""
    recipe = spec.key
    if not stable_key(recipe):
        return NO_KEY
    if recipe[0] == "const":
        return recipe[1]
    return frame.f_locals.get(recipe[1], NO_KEY)


def _method_effect(
    obj: object, name: str, traced: Callable[[CodeType], bool] | None
) -> Touched | None:
    """What calling ``obj.name`` does that no point of its own shows, if anything.

    A builtin container's method reads or changes its items; a method whose
    code is not traced may change any of the object's state.
    """
    if isinstance(obj, CONTAINERS):
        return [(obj, ITEMS, WRITE if name in MUTATORS else READ)]
    if traced is not None and _opaque_method(obj, name, traced):
        return [(obj, STATE, WRITE)]
    return None


def _opaque_method(obj: object, name: str, traced: Callable[[CodeType], bool]) -> bool:
    """Is ``obj.name`` a method whose code no point sees (and not the harness's own)?

    A Python method of untraced code is; so is a method of a C type (a future,
    a socket, an ``itertools`` iterator) unless its instances are immutable.
    """
    kind = type(obj)
    if kind.__module__.startswith("pytest_concurrency") or kind in _IMMUTABLE:
        return False  # a controlled primitive: its operations are events of their own
    method = _defined_by(obj, name)
    if isinstance(method, _C_METHODS):
        return True
    code = getattr(method, "__code__", None)
    return isinstance(code, CodeType) and not traced(code)


#: what a C type's methods are, on its class
_C_METHODS = (MethodDescriptorType, WrapperDescriptorType, BuiltinFunctionType)


#: class attributes whose reads touch nothing that changes (methods and their kin)
_METHOD_TYPES = (
    FunctionType,
    classmethod,
    staticmethod,
    BuiltinFunctionType,
    MethodDescriptorType,
    WrapperDescriptorType,
    ClassMethodDescriptorType,
)


def _defined_by(obj: object, name: str) -> object:
    """The class attribute ``name`` reads on ``obj`` when its instance dict lacks it, else None."""
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        namespace = None
    if isinstance(namespace, dict) and name in namespace:
        return None
    for klass in type(obj).__mro__:
        found = klass.__dict__.get(name, _MISSING)
        if found is not _MISSING:
            if isinstance(found, (property, MemberDescriptorType, GetSetDescriptorType)):
                return None  # instance data behind a descriptor: keyed by the instance
            return found
    return None


def instance_dict(obj: object) -> dict[str, object] | None:
    """The dict holding ``obj``'s attributes (a module's globals), if it has a plain one.

    Its items are the object's attributes: ``obj.__dict__["x"]``, ``vars(obj)``
    and ``obj.x`` are one location (see :mod:`.locations`).
    """
    if type(obj) is dict:
        return None
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except Exception:  # no instance dict (slots, a builtin), or a descriptor that fails
        return None
    return namespace if type(namespace) is dict else None


def _instance_attribute(obj: object, name: str) -> object:
    namespace = instance_dict(obj)
    if namespace is None:
        return None
    return namespace if name == "__dict__" else namespace.get(name)


def _evaluate(recipe: Recipe, frame: FrameType) -> object:
    """The object ``recipe`` names in ``frame``, or None when it cannot be read safely."""
    if recipe is None:
        return None
    kind = recipe[0]
    if kind == "fast" or kind == "deref":
        return frame.f_locals.get(recipe[1])
    if kind == "global":
        value = frame.f_globals.get(recipe[1], _MISSING)
        return getattr(builtins, recipe[1], None) if value is _MISSING else value
    if kind == "const":
        return recipe[1]
    if kind == "view":
        base = _evaluate(recipe[1], frame)
        return base if isinstance(base, dict) else None
    if kind == "attr":
        base = _evaluate(recipe[1], frame)
        if base is None:
            return None
        if isinstance(base, ModuleType) and recipe[2] != "__dict__":
            return base.__dict__.get(recipe[2])
        return _instance_attribute(base, recipe[2])
    return None


def describe(obj: object, part: object) -> str:
    """A readable name of a location: ``Counter.value``, ``dict[items]``, ``dict['k']``."""
    if is_item(part):
        owner = "?" if obj is None else type(obj).__qualname__
        return f"{owner}[{part[1]!r}]"  # type: ignore[index]
    name = str(part)
    if isinstance(obj, dict) and name != ITEMS:
        module = obj.get("__name__")
        return f"{module}.{name}" if isinstance(module, str) else f"global {name}"
    if name.startswith(CELL):
        return f"closure variable {name[len(CELL) :]}"
    if obj is None:
        return f"?{name}" if name == ITEMS else f"?.{name}"
    if name == STATE:
        return f"{type(obj).__qualname__} (a method whose code is not traced)"
    owner = type(obj).__qualname__
    return f"{owner}{name}" if name == ITEMS else f"{owner}.{name}"


def memory_point(
    sched: Scheduler,
    code: CodeType,
    line: int | None,
    offset: int,
    frame: FrameType,
    alone: bool,
    traced: Callable[[CodeType], bool] | None = None,
    receivers: Receivers | None = None,
) -> bool:
    """Make this instruction a ``"memory"`` point if it touches shared memory.

    Only the baton holder's instructions count. Unlike line points, the
    instructions on a function's first line count too (a lambda's whole body
    is there): instruction events report them on every call, where line
    events do not. ``alone``: no other thread
    could run at the last decision, so this access is no choice; a reducing
    strategy still learns of it (as part of the running event), others pay
    nothing. Returns True when no choice was possible (the thread is alone).

    ``receivers`` (one per run) carries a container method's receiver from
    its load to its call, where the access is made: by then the receiver's
    attribute path may name another object (another thread ran at a point in
    the arguments), the object on the stack is still the one the load found.
    """
    me = sched.current
    if me is None or me.ident != _get_ident() or sched.over or me.blocked:
        # blocked: the thread is inside the scheduler, and this is a finalizer the garbage
        # collector runs there (a coroutine closed), not the thread's own next step
        return alone
    if alone and sched.events is None:
        return True
    spec = accesses_of(code).get(offset)
    if spec is None:
        return alone
    kind = spec.kind
    if kind == "method" and spec.link >= 0 and receivers is not None:
        receiver = _evaluate(spec.operand, frame)
        if isinstance(receiver, CONTAINERS):
            receivers[(id(frame), spec.link)] = (frame, receiver)
            return alone
        touched = resolve(spec, frame, traced)
    elif kind in ("call", "iter") and receivers is not None:
        key = (id(frame), offset)
        # a call's receiver is used once; a loop's iterable at every step until the next loop
        held = receivers.pop(key, None) if kind == "call" else receivers.get(key)
        if held is not None and held[0] is frame:
            touched = resolve(spec, frame, traced, held[1])
        else:
            touched = resolve(spec, frame, traced)
    elif kind == "item" and spec.link >= 0 and receivers is not None:  # GET_ITER of a loop
        iterable = _evaluate(spec.operand, frame)
        receivers[(id(frame), spec.link)] = (frame, iterable)
        touched = resolve(spec, frame, traced)
    else:
        touched = resolve(spec, frame, traced)
    if touched is None:
        return alone
    where = ""
    if sched.tracer is not None:
        where = f"{_callsite.short_path(code.co_filename)}:{line}"
    access = MemoryAccess(touched, where)
    if alone:
        sched.touch(access)
        return True
    before = len(sched.choices)
    sched.point("memory", access)
    return len(sched.choices) == before
