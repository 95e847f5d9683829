"""Which instructions of a code object touch memory, and how their operands were made.

Memory granularity (:mod:`.memory`) needs, for each instruction that may
touch shared memory, *what* it touches. This module finds those instructions
by a small abstract interpretation of the bytecode (:func:`accesses_of`): for
each one it records how its operands were produced -- a local, a global, a
closure cell, a constant, or an attribute of one of those (a *recipe*) -- so
that the point can evaluate the recipe on the running frame. Where a recipe is
unknown (the operand is a call's result, say) the access is coarser, never
wrong.

A container method call is two instructions: the method load (``LOAD_ATTR``
or ``LOAD_METHOD``), where the container is on the stack, and the call, where
the arguments are. The call is linked to its load (:attr:`Spec.call`), so the
point can be made at the call -- when the key argument is known and right
before the container changes -- on the container the load found.
"""

from __future__ import annotations

import dis
import sys
from dataclasses import dataclass
from types import CodeType
from typing import Any

from pytest_concurrency.world.events import READ, WRITE
from pytest_concurrency.world.locations import STATE

__all__ = ["Recipe", "Spec", "accesses_of", "stable_key"]

#: an operand recipe: ("fast", name) | ("global", name) | ("deref", name) | ("const", value)
#: | ("attr", recipe, name) | ("view", recipe): a dict view of what recipe names; None where
#: unknown
Recipe = Any

#: the stack slots a method load leaves, until its call: ("callee", offset of the load)
_CALLEE = "callee"
#: methods whose result is a view of a dict: iterating it reads the dict's items
_VIEWS = frozenset({"keys", "values", "items"})
#: what an inlined comprehension (3.12+) does between its GET_ITER and its FOR_ITER
_COMPREHENSION_SETUP = frozenset(
    {"LOAD_FAST_AND_CLEAR", "SWAP", "BUILD_LIST", "BUILD_SET", "BUILD_MAP", "NOP"}
)


@dataclass(frozen=True)
class Spec:
    """What one memory instruction touches, before its operand is known."""

    #: "attr", "method", "call", "item", "iter" (a loop's step), "global", "cell"
    kind: str
    mode: str
    #: the attribute, global or cell; the method called; for "item", the container
    #: method the instruction amounts to (``__getitem__``, ``__contains__``, ``__iter__``...)
    name: str
    operand: Recipe
    #: a load whose value is used other than by a container operation this module
    #: sees (passed to a call, stored in a local): a container loaded so may be
    #: changed where no point sees it (``heapq.heappush(self.heap, x)``)
    escapes: bool = True
    #: "item" and "call": the recipe of the key (the subscript, the first argument)
    key: Recipe = None
    #: "method": the offset of the call instruction that calls it (-1: none found);
    #: "call": the offset of the method load it calls; ``GET_ITER`` ("item", ``__iter__``)
    #: and its ``FOR_ITER`` ("iter"): each other's
    link: int = -1


def stable_key(recipe: Recipe) -> bool:
    """Does ``recipe`` give the same value at the point as when the operand was loaded?

    A local or a constant does: no other thread can change it in between. An
    attribute or a global may have been changed by another thread at a point
    between the load and the instruction that uses it.
    """
    return recipe is not None and recipe[0] in ("fast", "const")


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
#: instructions that pop ``arg`` slots (or a function of it) and push one result
_BUILDS = {
    "BUILD_TUPLE": 1,
    "BUILD_LIST": 1,
    "BUILD_SET": 1,
    "BUILD_STRING": 1,
    "BUILD_MAP": 2,
}
#: instructions that add the top of the stack to a container deeper in it (popping it)
_ADDS = {
    "LIST_APPEND": 1,
    "SET_ADD": 1,
    "LIST_EXTEND": 1,
    "SET_UPDATE": 1,
    "DICT_UPDATE": 1,
    "DICT_MERGE": 1,
    "MAP_ADD": 2,
}


def _shape(name: str, arg: int) -> tuple[int, int] | None:
    """(pops, pushes) of an instruction whose result is no memory location, if known."""
    if name in _SHAPES:
        return _SHAPES[name]
    if name in _BUILDS:
        return _BUILDS[name] * arg, 1
    if name == "BUILD_CONST_KEY_MAP":
        return arg + 1, 1
    if name in _ADDS:
        return _ADDS[name], 0
    if name in ("CALL_INTRINSIC_1", "GET_AWAITABLE", "GET_ANEXT"):
        return 1, 1
    if name == "FORMAT_VALUE":  # 3.10-3.12: with a format spec, two slots
        return 2 if arg & 0x04 else 1, 1
    if name.startswith("UNARY_"):
        return 1, 1
    if name.startswith(("BINARY_", "INPLACE_")):
        return 2, 1
    return None


#: call instructions: slots popped beyond the argument count (``arg``); one result pushed
_CALLS = {
    "CALL": 2,  # 3.11+: [NULL or self, callable, *args]
    "CALL_FUNCTION": 1,  # 3.10
    "CALL_METHOD": 2,  # 3.10
    "CALL_FUNCTION_KW": 2,  # 3.10: the names tuple
    "CALL_KW": 3,  # 3.13: the names tuple
}
#: the calls whose arguments are the ``arg`` slots above the callable (no keyword names)
_POSITIONAL_CALLS = frozenset({"CALL", "CALL_METHOD"})
#: builtins that read or write one attribute of their first argument, named by the second
_ATTRIBUTE_BUILTINS = {"getattr": READ, "hasattr": READ, "setattr": WRITE, "delattr": WRITE}


def accesses_of(code: CodeType) -> dict[int, Spec]:
    """The memory instructions of ``code`` by offset, with their operand recipes (cached)."""
    found = _SPECS.get(code)
    if found is None:
        found = _Analysis(code).run()
        _SPECS[code] = found
    return found


class _Analysis:
    """One pass over a code object's instructions, tracking a stack of recipes."""

    def __init__(self, code: CodeType) -> None:
        self.code = code
        self.specs: dict[int, Spec] = {}
        self.stack: list[Recipe] = []
        #: loads whose value a container operation (method, subscript, in, iteration) consumed
        self.precise: set[int] = set()
        #: id of a recipe on the stack -> offset of the load that made it
        self.made_by: dict[int, int] = {}
        #: every recipe made, alive until the end so that no id in made_by is reused
        self.keep: list[Recipe] = []
        self.version = sys.version_info[:2]

    def pop(self) -> Recipe:
        return self.stack.pop() if self.stack else None

    def top(self, depth: int = 1) -> Recipe:
        return self.stack[-depth] if len(self.stack) >= depth else None

    def consumed(self, recipe: Recipe) -> Recipe:
        if recipe is not None and id(recipe) in self.made_by:
            self.precise.add(self.made_by[id(recipe)])
        return recipe

    def loaded(self, recipe: Recipe, offset: int) -> Recipe:
        self.keep.append(recipe)
        self.made_by[id(recipe)] = offset
        return recipe

    def run(self) -> dict[int, Spec]:
        instructions = list(dis.get_instructions(self.code))
        for position, ins in enumerate(instructions):
            if ins.is_jump_target:
                self.stack = []  # a join point: what is on the stack is not known here
            if ins.opname == "GET_ITER":
                self.iteration(ins, instructions[position + 1 :])
            elif ins.opname == "FOR_ITER" and ins.offset not in self.specs:
                self.comprehension(ins)
            else:
                self.step(ins)
        specs = self.specs
        for offset, spec in specs.items():
            if spec.mode == READ and spec.kind in ("attr", "global", "cell"):
                specs[offset] = Spec(
                    spec.kind, spec.mode, spec.name, spec.operand, offset not in self.precise
                )
        return specs

    def step(self, ins: dis.Instruction) -> None:
        name = ins.opname
        arg = ins.arg or 0
        stack = self.stack
        specs = self.specs
        pop = self.pop
        if name in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR"):
            stack.append(("fast", ins.argval))
        elif name == "LOAD_FAST_LOAD_FAST":
            first, second = ins.argval
            stack.extend([("fast", first), ("fast", second)])
        elif name == "STORE_FAST_LOAD_FAST":  # 3.13: ``x = ...; x.attr``, ``a = b = ...``
            pop()
            stack.append(("fast", ins.argval[1]))
        elif name == "STORE_FAST_STORE_FAST":  # 3.13: ``a, b = ...``
            pop()
            pop()
        elif name in ("LOAD_DEREF", "LOAD_CLASSDEREF"):
            specs[ins.offset] = Spec("cell", READ, ins.argval, None)
            stack.append(self.loaded(("deref", ins.argval, ins.offset), ins.offset))
        elif name == "LOAD_GLOBAL":
            specs[ins.offset] = Spec("global", READ, ins.argval, None)
            with_null = self.version >= (3, 11) and arg & 1
            if with_null and self.version < (3, 13):
                stack.append(None)
            stack.append(self.loaded(("global", ins.argval, ins.offset), ins.offset))
            if with_null and self.version >= (3, 13):
                stack.append(None)
        elif name == "LOAD_NAME":
            stack.append(("global", ins.argval))
        elif name == "LOAD_CONST":
            stack.append(("const", ins.argval))
        elif name == "LOAD_ATTR":
            operand = pop()
            if self.version >= (3, 12) and arg & 1:
                self.method(ins, operand)
            else:
                specs[ins.offset] = Spec("attr", READ, ins.argval, operand)
                stack.append(self.loaded(("attr", operand, ins.argval), ins.offset))
        elif name == "LOAD_METHOD":
            self.method(ins, pop())
        elif name in ("STORE_ATTR", "DELETE_ATTR"):
            specs[ins.offset] = Spec("attr", WRITE, ins.argval, pop())
            if name == "STORE_ATTR":
                pop()
        elif name in ("BINARY_SUBSCR", "DELETE_SUBSCR"):
            key = pop()
            load = name == "BINARY_SUBSCR"
            specs[ins.offset] = Spec(
                "item",
                READ if load else WRITE,
                "__getitem__" if load else "__delitem__",
                self.consumed(pop()),
                key=key,
            )
            if load:
                stack.append(None)
        elif name == "STORE_SUBSCR":
            key = pop()
            specs[ins.offset] = Spec("item", WRITE, "__setitem__", self.consumed(pop()), key=key)
            pop()
        elif name == "CONTAINS_OP":
            container = self.consumed(pop())
            specs[ins.offset] = Spec("item", READ, "__contains__", container, key=pop())
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
            stack.append(self.top(arg))
        elif name == "DUP_TOP":
            stack.append(self.top())
        elif name == "DUP_TOP_TWO":  # 3.10: ``box[k] += 1`` keeps box and k for the store
            stack.extend([self.top(2), self.top(1)])
        elif name in ("ROT_THREE", "ROT_FOUR", "ROT_N"):  # 3.10: the top sinks ``depth`` deep
            depth = {"ROT_THREE": 3, "ROT_FOUR": 4}.get(name, arg)
            if len(stack) >= depth:
                stack.insert(len(stack) - depth, stack.pop())
            else:
                self.stack = []
        elif name in ("SWAP", "ROT_TWO"):
            depth = arg if name == "SWAP" else 2
            if len(stack) >= depth:
                stack[-1], stack[-depth] = stack[-depth], stack[-1]
            else:
                self.stack = []
        elif name in (
            "NOP",
            "RESUME",
            "CACHE",
            "EXTENDED_ARG",
            "PRECALL",
            "NOT_TAKEN",
            "KW_NAMES",
        ):
            pass
        elif (shape := _shape(name, arg)) is not None:
            pops, pushes = shape
            for _ in range(pops):
                pop()
            stack.extend([None] * pushes)
        elif name in _CALLS:
            self.call(ins, name, arg)
        else:
            # anything else: what it leaves is not known, only how many slots
            try:
                effect = dis.stack_effect(ins.opcode, ins.arg, jump=False)
            except ValueError:
                effect = 0
            self.stack = [None] * max(0, len(stack) + effect)

    def iteration(self, ins: dis.Instruction, after: list[dis.Instruction]) -> None:
        """``GET_ITER``, linked to the ``FOR_ITER`` that steps its iterator (if in this code).

        Every step of a loop over a container reads its items again (a dict
        changed meanwhile raises): the ``FOR_ITER`` is an access too, of what
        the ``GET_ITER`` found. In 3.12+ an inlined comprehension puts a few
        stack shuffles between them.
        """
        operand = self.consumed(self.pop())
        step = -1
        for later in after:
            if later.opname == "FOR_ITER":
                step = later.offset
                break
            if later.opname not in _COMPREHENSION_SETUP:
                break
        self.specs[ins.offset] = Spec("item", READ, "__iter__", operand, link=step)
        if step >= 0:
            self.specs[step] = Spec("iter", READ, "__next__", operand, link=ins.offset)
        self.stack.append(None)

    def comprehension(self, ins: dis.Instruction) -> None:
        """A ``FOR_ITER`` with no ``GET_ITER`` of its own: a comprehension's, over ``.0``.

        Before 3.12 (and for generator expressions always) a comprehension is
        a code object of its own, handed its iterator as the argument ``.0``.
        """
        if ".0" in self.code.co_varnames:
            self.specs[ins.offset] = Spec("iter", READ, "__next__", ("fast", ".0"))
        self.step(ins)

    def method(self, ins: dis.Instruction, operand: Recipe) -> None:
        """A method load: two slots (method and self) that its call consumes."""
        self.specs[ins.offset] = Spec("method", READ, ins.argval, self.consumed(operand))
        callee = (_CALLEE, ins.offset)
        self.stack.extend([callee, callee])

    def builtin(self, ins: dis.Instruction, callee: list[Recipe], args: list[Recipe]) -> None:
        """``getattr(obj, "name")`` and its kin access an attribute where no load sees it:
        the call is that access (of the whole object when the name is not a constant);
        ``vars(obj)`` is ``obj.__dict__``, so that its items are the object's attributes."""
        called = next(
            (slot[1] for slot in callee if isinstance(slot, tuple) and slot[0] == "global"), None
        )
        if called == "vars" and len(args) == 1:
            self.stack[-1] = ("attr", args[0], "__dict__")
        mode = _ATTRIBUTE_BUILTINS.get(called) if isinstance(called, str) else None
        if mode is None or len(args) < 2:
            return
        named = args[1]
        attribute = named[1] if named is not None and named[0] == "const" else None
        self.specs[ins.offset] = Spec(
            "attr", mode, attribute if isinstance(attribute, str) else STATE, args[0]
        )

    def call(self, ins: dis.Instruction, name: str, arg: int) -> None:
        stack = self.stack
        args = stack[-arg:] if arg and len(stack) >= arg else []
        for _ in range(arg):
            self.pop()
        callee = [self.pop() for _ in range(_CALLS[name])]
        stack.append(None)
        if name in ("CALL", "CALL_FUNCTION"):
            self.builtin(ins, callee, args)
        if name not in _POSITIONAL_CALLS:
            return
        for slot in callee:
            if isinstance(slot, tuple) and slot[0] == _CALLEE:
                load = self.specs.get(slot[1])
                if load is None or load.kind != "method":
                    return
                first = args[0] if args else None
                self.specs[slot[1]] = Spec("method", READ, load.name, load.operand, link=ins.offset)
                self.specs[ins.offset] = Spec(
                    "call", READ, load.name, load.operand, key=first, link=slot[1]
                )
                if load.name in _VIEWS and not args:
                    # ``d.items()``: iterating the view reads the dict
                    stack[-1] = ("view", load.operand)
                return
