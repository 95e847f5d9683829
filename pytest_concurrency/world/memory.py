"""Memory granularity: a scheduling point before each access to shared memory, naming it.

At ``granularity="memory"`` the traced code's instructions are watched as at
opcode granularity, but only those that touch memory another thread could
share are points: attribute loads, stores and deletes; subscript loads, stores
and deletes, ``in`` tests and iteration over a container; global and closure
cell loads and stores; and the methods of the builtin containers (``dict``,
``list``, ``set``, ``deque``, ...), judged reading or mutating by name. Each
point carries *what* it touches -- the object and attribute name, the container
-- so that a partial-order reduction (:mod:`.dpor`) can tell that two accesses
conflict (one of them writes the same location) or commute.

Which object an instruction touches is found by a small abstract
interpretation of the code object's bytecode (:func:`accesses_of`): for each
memory instruction it records how its operand was produced -- a local, a
global, a closure cell, a constant, or an attribute of one of those -- and the
point evaluates that recipe on the running frame (attribute steps read only an
instance's ``__dict__``, so no property or ``__getattr__`` runs). Where the
recipe is unknown (the operand is a call's result, say) the access is keyed by
its attribute name alone, or by "some container": coarser, so two accesses may
be judged conflicting when they are not, never the other way round.

Globals and closure cells that hold modules, functions or classes are taken as
constant (rebinding a function while another thread calls it is out of scope),
which keeps every call of a helper function from being a point.
"""

from __future__ import annotations

import builtins
import collections
import dis
import sys
from collections.abc import Callable
from dataclasses import dataclass
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
from typing import TYPE_CHECKING, Any

from pytest_concurrency import _callsite, _realtime
from pytest_concurrency.world.events import READ, WRITE

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler

_get_ident = _realtime.get_ident

#: the containers whose methods are accesses of their items
CONTAINERS: tuple[type, ...] = (
    dict,
    list,
    set,
    bytearray,
    collections.deque,
    collections.OrderedDict,
    collections.defaultdict,
    collections.Counter,
)
#: container methods that change the items; every other method only reads them
MUTATORS = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "insert",
        "pop",
        "popleft",
        "popitem",
        "remove",
        "discard",
        "add",
        "clear",
        "update",
        "setdefault",
        "sort",
        "reverse",
        "rotate",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
        "__setitem__",
        "__delitem__",
        "__iadd__",
        "__ior__",
        "subtract",
        "move_to_end",
    }
)
#: the location of a container's items, as an attribute name of the container
ITEMS = "[items]"
#: all of an object's state: what a method whose code is not traced may have touched
STATE = "[state]"

#: an operand recipe: ("fast", name) | ("global", name) | ("deref", name) | ("const", value)
#: | ("attr", recipe, name); None where unknown
Recipe = Any
_CONSTANT_TYPES = (ModuleType, FunctionType, BuiltinFunctionType, type)
_MISSING = object()


@dataclass(frozen=True)
class Spec:
    """What one memory instruction touches, before its operand is known."""

    #: "attr", "method", "item", "global", "cell"
    kind: str
    mode: str
    name: str
    operand: Recipe
    #: a load whose value is used other than by a container operation this module
    #: sees (passed to a call, stored in a local): a container loaded so may be
    #: changed where no point sees it (``heapq.heappush(self.heap, x)``)
    escapes: bool = True


class MemoryAccess:
    """What one memory point touches: (object or location, name, mode) triples.

    ``obj`` is the object itself (kept alive for the run, so its identity
    cannot be reused), or None where it is unknown and the name alone keys it.
    """

    __slots__ = ("accesses", "text", "where")

    def __init__(self, accesses: list[tuple[object, str, str]], text: str, where: str = "") -> None:
        self.accesses = accesses
        self.text = text
        #: the user's ``file:line`` of the access (only when a failure is traced)
        self.where = where

    def label(self) -> str:
        return self.text

    def holder(self) -> None:
        return None


_SPECS: dict[CodeType, dict[int, Spec]] = {}
#: (pops, pushes) of common instructions whose result is no memory location
_SHAPES = {
    "COMPARE_OP": (2, 1),
    "IS_OP": (2, 1),
    "TO_BOOL": (1, 1),
    "FORMAT_SIMPLE": (1, 1),
    "GET_LEN": (1, 2),
    "BINARY_SLICE": (3, 1),
    "STORE_SLICE": (4, 0),
    "BUILD_SLICE": (2, 1),
}
#: call instructions: slots popped beyond the argument count (``arg``); one result pushed
_CALLS = {
    "CALL": 2,  # 3.11+: [NULL or self, callable, *args]
    "CALL_FUNCTION": 1,  # 3.10
    "CALL_METHOD": 2,  # 3.10
    "CALL_FUNCTION_KW": 2,  # 3.10: the names tuple
    "CALL_KW": 3,  # 3.13: the names tuple
}


def accesses_of(code: CodeType) -> dict[int, Spec]:
    """The memory instructions of ``code`` by offset, with their operand recipes (cached)."""
    found = _SPECS.get(code)
    if found is None:
        found = _analyse(code)
        _SPECS[code] = found
    return found


def _analyse(code: CodeType) -> dict[int, Spec]:
    specs: dict[int, Spec] = {}
    stack: list[Recipe] = []
    #: loads whose value a container operation (method, subscript, in, iteration) consumed
    precise: set[int] = set()
    #: id of a recipe on the stack -> offset of the load that made it
    made_by: dict[int, int] = {}

    def consumed(recipe: Recipe) -> Recipe:
        if recipe is not None and id(recipe) in made_by:
            precise.add(made_by[id(recipe)])
        return recipe

    def loaded(recipe: Recipe, offset: int) -> Recipe:
        keep.append(recipe)  # alive until the end, so that no id in made_by is reused
        made_by[id(recipe)] = offset
        return recipe

    keep: list[Recipe] = []

    def pop() -> Recipe:
        return stack.pop() if stack else None

    def top(depth: int = 1) -> Recipe:
        return stack[-depth] if len(stack) >= depth else None

    version = sys.version_info[:2]
    for ins in dis.get_instructions(code):
        if ins.is_jump_target:
            stack = []  # a join point: what is on the stack is not known here
        name = ins.opname
        arg = ins.arg or 0
        if name in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR"):
            stack.append(("fast", ins.argval))
        elif name == "LOAD_FAST_LOAD_FAST":
            first, second = ins.argval
            stack.extend([("fast", first), ("fast", second)])
        elif name in ("LOAD_DEREF", "LOAD_CLASSDEREF"):
            specs[ins.offset] = Spec("cell", READ, ins.argval, None)
            stack.append(loaded(("deref", ins.argval, ins.offset), ins.offset))
        elif name == "LOAD_GLOBAL":
            specs[ins.offset] = Spec("global", READ, ins.argval, None)
            with_null = version >= (3, 11) and arg & 1
            if with_null and version < (3, 13):
                stack.append(None)
            stack.append(loaded(("global", ins.argval, ins.offset), ins.offset))
            if with_null and version >= (3, 13):
                stack.append(None)
        elif name == "LOAD_NAME":
            stack.append(("global", ins.argval))
        elif name == "LOAD_CONST":
            stack.append(("const", ins.argval))
        elif name == "LOAD_ATTR":
            operand = pop()
            method = version >= (3, 12) and arg & 1
            attr = ins.argval
            if method:
                specs[ins.offset] = Spec("method", READ, attr, consumed(operand))
                stack.extend([None, None])
            else:
                specs[ins.offset] = Spec("attr", READ, attr, operand)
                stack.append(loaded(("attr", operand, attr), ins.offset))
        elif name == "LOAD_METHOD":
            specs[ins.offset] = Spec("method", READ, ins.argval, consumed(pop()))
            stack.extend([None, None])
        elif name in ("STORE_ATTR", "DELETE_ATTR"):
            specs[ins.offset] = Spec("attr", WRITE, ins.argval, pop())
            if name == "STORE_ATTR":
                pop()
        elif name == "BINARY_SUBSCR":
            pop()
            specs[ins.offset] = Spec("item", READ, ITEMS, consumed(pop()))
            stack.append(None)
        elif name == "STORE_SUBSCR":
            pop()
            specs[ins.offset] = Spec("item", WRITE, ITEMS, consumed(pop()))
            pop()
        elif name == "DELETE_SUBSCR":
            pop()
            specs[ins.offset] = Spec("item", WRITE, ITEMS, consumed(pop()))
        elif name == "CONTAINS_OP":
            specs[ins.offset] = Spec("item", READ, ITEMS, consumed(pop()))
            pop()
            stack.append(None)
        elif name == "GET_ITER":
            specs[ins.offset] = Spec("item", READ, ITEMS, consumed(pop()))
            stack.append(None)
        elif name in ("STORE_GLOBAL", "DELETE_GLOBAL"):
            specs[ins.offset] = Spec("global", WRITE, ins.argval, None)
            if name == "STORE_GLOBAL":
                pop()
        elif name in ("STORE_DEREF", "DELETE_DEREF"):
            specs[ins.offset] = Spec("cell", WRITE, ins.argval, None)
            if name == "STORE_DEREF":
                pop()
        elif name in ("STORE_FAST", "POP_TOP", "STORE_NAME"):
            pop()
        elif name == "PUSH_NULL":
            stack.append(None)
        elif name == "COPY":
            stack.append(top(arg))
        elif name == "DUP_TOP":
            stack.append(top())
        elif name == "SWAP":
            if len(stack) >= arg:
                stack[-1], stack[-arg] = stack[-arg], stack[-1]
            else:
                stack = []
        elif name == "ROT_TWO":
            if len(stack) >= 2:
                stack[-1], stack[-2] = stack[-2], stack[-1]
            else:
                stack = []
        elif name in ("NOP", "RESUME", "CACHE", "EXTENDED_ARG", "PRECALL", "NOT_TAKEN"):
            pass
        elif name in _SHAPES or name.startswith(("BINARY_", "INPLACE_", "UNARY_")):
            pops, pushes = _SHAPES.get(name, (1, 1) if name.startswith("UNARY_") else (2, 1))
            for _ in range(pops):
                pop()
            stack.extend([None] * pushes)
        elif name in _CALLS:
            for _ in range(arg + _CALLS[name]):
                pop()
            stack.append(None)
        else:
            # anything else: what it leaves is not known, only how many slots
            try:
                effect = dis.stack_effect(ins.opcode, ins.arg, jump=False)
            except ValueError:
                effect = 0
            stack = [None] * max(0, len(stack) + effect)
    for offset, spec in specs.items():
        if spec.mode == READ and spec.kind in ("attr", "global", "cell"):
            specs[offset] = Spec(
                spec.kind, spec.mode, spec.name, spec.operand, offset not in precise
            )
    return specs


def _escaping(spec: Spec, value: object) -> list[tuple[object, str, str]]:
    """A container loaded to be passed on: it may be changed where no point sees it."""
    if spec.escapes and isinstance(value, CONTAINERS):
        return [(value, ITEMS, WRITE)]
    return []


def resolve(
    spec: Spec, frame: FrameType, traced: Callable[[CodeType], bool] | None = None
) -> list[tuple[object, str, str]] | None:
    """What ``spec`` touches in ``frame`` now; None when it is no shared access.

    ``traced`` tells whether a code object is traced: a method call on an
    object whose method is not (a library class) may change any of the
    object's state where no point sees it, so it counts as a write of all of
    it (``STATE``), which conflicts with every other access to that object.
    """
    if spec.kind == "global":
        value = frame.f_globals.get(spec.name, _MISSING)
        if value is _MISSING:
            return None if spec.mode == READ else [(frame.f_globals, spec.name, spec.mode)]
        if spec.mode == READ and isinstance(value, _CONSTANT_TYPES):
            return None
        return [(frame.f_globals, spec.name, spec.mode), *_escaping(spec, value)]
    if spec.kind == "cell":
        value = frame.f_locals.get(spec.name, _MISSING)
        if spec.mode == READ and isinstance(value, _CONSTANT_TYPES):
            return None
        # a closure cell: keyed by its name in the code that uses it (coarse, never unsound
        # within one function; cells of one name in different functions do not meet)
        return [(None, "cell:" + spec.name, spec.mode), *_escaping(spec, value)]
    obj = _evaluate(spec.operand, frame)
    if spec.kind == "item":
        return [(obj, ITEMS, spec.mode)]
    if spec.kind == "method":
        if obj is not None and isinstance(obj, CONTAINERS):
            return [(obj, ITEMS, WRITE if spec.name in MUTATORS else READ)]
        if obj is not None and isinstance(obj, _CONSTANT_TYPES):
            return None
        if obj is not None and traced is not None and _opaque_method(obj, spec.name, traced):
            return [(obj, STATE, WRITE)]
        return [(obj, spec.name, READ)]
    if obj is not None and isinstance(obj, ModuleType) and spec.mode == READ:
        value = obj.__dict__.get(spec.name)
        if isinstance(value, _CONSTANT_TYPES):
            return None
    if spec.mode == READ and obj is not None and not isinstance(obj, (type, ModuleType)):
        where = _defined_by(obj, spec.name)
        if where is not None:
            if isinstance(where, _METHOD_TYPES):
                return None  # a method: the class is taken as constant
            # class-level data: it may be shadowed by an instance write of the same name
            return [(None, spec.name, READ)]
    found: list[tuple[object, str, str]] = [(obj, spec.name, spec.mode)]
    if spec.mode == READ and obj is not None:
        found.extend(_escaping(spec, _instance_attribute(obj, spec.name)))
    return found


def _opaque_method(obj: object, name: str, traced: Callable[[CodeType], bool]) -> bool:
    """Is ``obj.name`` a method whose code no point sees (and not the harness's own)?"""
    if type(obj).__module__.startswith("pytest_concurrency"):
        return False  # a controlled primitive: its operations are events of their own
    method = _defined_by(obj, name)
    code = getattr(method, "__code__", None)
    return isinstance(code, CodeType) and not traced(code)


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


def _instance_attribute(obj: object, name: str) -> object:
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return None
    return namespace.get(name) if isinstance(namespace, dict) else None


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
    if kind == "attr":
        base = _evaluate(recipe[1], frame)
        if base is None:
            return None
        if isinstance(base, ModuleType):
            return base.__dict__.get(recipe[2])
        return _instance_attribute(base, recipe[2])
    return None


def describe(obj: object, name: str) -> str:
    """A readable name of a location: ``Counter.value``, ``dict[items]``, ``module.x``."""
    if isinstance(obj, dict) and name != ITEMS:
        module = obj.get("__name__")
        return f"{module}.{name}" if isinstance(module, str) else f"global {name}"
    if name.startswith("cell:"):
        return f"closure variable {name[5:]}"
    if obj is None:
        return f"?.{name}"
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
) -> bool:
    """Make this instruction a ``"memory"`` point if it touches shared memory.

    Only the baton holder's instructions count. Unlike line points, the
    instructions on a function's first line count too (a lambda's whole body
    is there): instruction events report them on every call, where line
    events do not. ``alone``: no other thread
    could run at the last decision, so this access is no choice; a reducing
    strategy still learns of it (as part of the running event), others pay
    nothing. Returns True when no choice was possible (the thread is alone).
    """
    me = sched.current
    if me is None or me.ident != _get_ident() or sched.over:
        return alone
    if alone and sched.events is None:
        return True
    spec = accesses_of(code).get(offset)
    if spec is None:
        return alone
    touched = resolve(spec, frame, traced)
    if touched is None:
        return alone
    text = where = ""
    if sched.tracer is not None:
        text = ", ".join(
            f"{'write' if mode == WRITE else 'read'} {describe(obj, name)}"
            for obj, name, mode in touched
        )
        where = f"{_callsite.short_path(code.co_filename)}:{line}"
    access = MemoryAccess(touched, text, where)
    if alone:
        sched.touch(access)
        return True
    before = len(sched.choices)
    sched.point("memory", access)
    return len(sched.choices) == before
