"""Where a primitive created before the run hides: the slots reachable from a patch target.

A module-level ``_LOCK = threading.Lock()`` is one global, but the same lock is
often also captured by other objects at import: a decorator's wrapper
(``@cachetools.cached(cache, lock=_LOCK)`` keeps it as an attribute of its
wrapper object), a closure cell, a default argument, a ``functools.partial``'s
arguments. Swapping only the global leaves those copies real, so the run never
sees them. :func:`find_slots` walks the references of a patch target and
returns every *slot* (an assignable place) holding a swappable object, so that
each one can be swapped -- and restored -- through the run's Patcher.

The walk is deliberately small: it follows function closures, defaults,
keyword defaults and attributes (``__wrapped__`` among them), ``partial``
objects, bound methods' ``__self__`` and ``__func__``, class attributes and
instances' attributes, to :data:`MAX_DEPTH` levels, each object once. It never
enters a module other than the target, an object of the standard library or
of the test harness (whose own locks must stay real), nor, from a module, a
function or class that module only imported (another module's globals would
keep the real primitive, and two objects standing for one lock would let a run
find races that cannot happen).
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from pytest_concurrency._clock.harness import CLOCK_USERS
from pytest_concurrency._harness import HARNESS_PACKAGES
from pytest_concurrency._patching import Patcher

#: levels of references followed below the target (a module's global is level 1)
MAX_DEPTH = 4

#: containers looked into by the failure advice (their first items only)
_CONTAINERS: tuple[type, ...] = (dict, list, tuple)
_CONTAINER_ITEMS = 50

#: values that can neither be nor hold a primitive
_LEAVES: tuple[type, ...] = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    bytearray,
    tuple,
    list,
    dict,
    set,
    frozenset,
    range,
    types.CodeType,
    types.BuiltinFunctionType,
    types.ModuleType,
)


def is_foreign_module(name: str) -> bool:
    """True for the standard library and the test harness: never walked, never swapped in."""
    top = name.partition(".")[0]
    if top in sys.stdlib_module_names or top == "builtins":
        return True
    if top in HARNESS_PACKAGES:
        return not any(name == user or name.startswith(user + ".") for user in CLOCK_USERS)
    return False


def is_harness_module(name: str) -> bool:
    """True for the test harness's own modules (pytest, its plugins, this package's internals)."""
    top = name.partition(".")[0]
    return top in HARNESS_PACKAGES and is_foreign_module(name)


class Slot:
    """An assignable place holding an object: read it, or swap it through a Patcher."""

    #: False for a place that is only reported (an item of a container)
    swappable: bool = True

    where: str
    #: the object the slot belongs to (a module, function, instance, partial)
    owner: Any
    #: where the object is, for a person ("the closure of app.load (lock)")
    holder: str
    #: the name of the walk's root (a module name), when found by :func:`holders_of`
    root: str = ""

    def get(self) -> Any:
        raise NotImplementedError

    def swap(self, patcher: Patcher, value: Any) -> None:
        raise NotImplementedError


class AttributeSlot(Slot):
    """A module global, class attribute or instance attribute."""

    def __init__(self, owner: Any, name: str, where: str, holder: str) -> None:
        self.owner, self.name, self.where, self.holder = owner, name, where, holder

    def get(self) -> Any:
        namespace = getattr(self.owner, "__dict__", None)
        if namespace is not None and self.name in namespace:
            return namespace[self.name]
        return getattr(self.owner, self.name)  # a __slots__ member: a plain descriptor read

    def swap(self, patcher: Patcher, value: Any) -> None:
        patcher.setattr(self.owner, self.name, value)


class CellSlot(Slot):
    """A closure cell of a function (``cell_contents`` is assignable)."""

    def __init__(self, owner: Any, cell: Any, where: str, holder: str) -> None:
        self.owner, self.cell, self.where, self.holder = owner, cell, where, holder

    def get(self) -> Any:
        return self.cell.cell_contents

    def swap(self, patcher: Patcher, value: Any) -> None:
        patcher.setattr(self.cell, "cell_contents", value)


class DefaultSlot(Slot):
    """One positional default of a function: swapped by replacing ``__defaults__``."""

    def __init__(self, owner: Any, index: int, where: str, holder: str) -> None:
        self.owner, self.index, self.where, self.holder = owner, index, where, holder

    def get(self) -> Any:
        return self.owner.__defaults__[self.index]

    def swap(self, patcher: Patcher, value: Any) -> None:
        defaults = list(self.owner.__defaults__)
        defaults[self.index] = value
        patcher.setattr(self.owner, "__defaults__", tuple(defaults))


class KeywordDefaultSlot(Slot):
    """One keyword-only default of a function: swapped by replacing ``__kwdefaults__``."""

    def __init__(self, owner: Any, key: str, where: str, holder: str) -> None:
        self.owner, self.key, self.where, self.holder = owner, key, where, holder

    def get(self) -> Any:
        return self.owner.__kwdefaults__[self.key]

    def swap(self, patcher: Patcher, value: Any) -> None:
        patcher.setattr(
            self.owner, "__kwdefaults__", {**self.owner.__kwdefaults__, self.key: value}
        )


class ContainerSlot(Slot):
    """An item of a dict, list or tuple: reported where a primitive is, never swapped."""

    swappable = False

    def __init__(self, owner: Any, where: str, holder: str) -> None:
        self.owner, self.where, self.holder = owner, where, holder

    def get(self) -> Any:
        raise LookupError("a container item is only reported, never read back")

    def swap(self, patcher: Patcher, value: Any) -> None:
        raise TypeError("patch() does not swap primitives inside containers")


class _PartialState:
    """A ``partial``'s state as one assignable attribute, so a Patcher can swap and restore it."""

    __slots__ = ("_partial",)

    def __init__(self, partial: functools.partial[Any]) -> None:
        self._partial = partial

    @property
    def state(self) -> tuple[Any, ...]:
        state: tuple[Any, ...] = self._partial.__reduce__()[2]  # type: ignore[assignment]
        return state

    @state.setter
    def state(self, value: tuple[Any, ...]) -> None:
        self._partial.__setstate__(value)  # type: ignore[attr-defined]


class PartialSlot(Slot):
    """A positional (int key) or keyword (str key) argument bound by ``functools.partial``."""

    def __init__(self, owner: Any, key: int | str, where: str, holder: str) -> None:
        self.owner, self.key, self.where, self.holder = owner, key, where, holder

    def get(self) -> Any:
        if isinstance(self.key, int):
            return self.owner.args[self.key]
        return self.owner.keywords[self.key]

    def swap(self, patcher: Patcher, value: Any) -> None:
        func, args, keywords, namespace = _PartialState(self.owner).state
        if isinstance(self.key, int):
            args = (*args[: self.key], value, *args[self.key + 1 :])
        else:
            keywords = {**(keywords or {}), self.key: value}
        patcher.setattr(_PartialState(self.owner), "state", (func, args, keywords, namespace))


def _home(value: Any) -> str:
    """The module an object belongs to: a function's or class's own, else its type's."""
    if isinstance(value, (types.FunctionType, type)):
        return str(getattr(value, "__module__", None) or "")
    return str(getattr(type(value), "__module__", "") or "")


def _imported(value: Any, root: str) -> bool:
    """A function or class defined in another module and bound in ``root`` by an import."""
    if not isinstance(value, (types.FunctionType, type)):
        return False
    home = _home(value)
    if home == root:
        return False
    module = sys.modules.get(home)
    return module is not None and vars(module).get(getattr(value, "__name__", "")) is value


def describe(value: Any) -> str:
    """What kind of object holds a slot, for a person: "a cachetools _LockedWrapper object"."""
    if isinstance(value, types.ModuleType):
        return "module"
    if isinstance(value, type):
        return "class"
    if isinstance(value, types.FunctionType):
        return "function"
    kind = type(value)
    package = kind.__module__.partition(".")[0]
    return f"a {package} {kind.__qualname__} object"


class _Walker:
    def __init__(
        self, swappable: Callable[[Any], bool], root: Any, containers: bool = False
    ) -> None:
        self.swappable = swappable
        self.containers = containers
        self.seen: set[int] = set()
        self.slots: list[Slot] = []
        self.root_module = root.__name__ if isinstance(root, types.ModuleType) else ""

    def walk(self, obj: Any, where: str, depth: int) -> None:
        if id(obj) in self.seen or depth > MAX_DEPTH:
            return
        self.seen.add(id(obj))
        try:
            self._dispatch(obj, where, depth)
        except Exception:  # an object whose attributes cannot be read plainly: not ours to walk
            return

    def _dispatch(self, obj: Any, where: str, depth: int) -> None:
        if isinstance(obj, types.ModuleType):
            if depth == 0:
                self._namespace(obj, vars(obj), where, depth, "module", top=True)
        elif isinstance(obj, types.FunctionType):
            self._function(obj, where, depth)
        elif isinstance(obj, (staticmethod, classmethod)):
            self.walk(obj.__func__, where, depth)
        elif isinstance(obj, types.MethodType):
            self.walk(obj.__func__, where, depth + 1)
            self.walk(obj.__self__, f"{where}.__self__", depth + 1)
        elif isinstance(obj, functools.partial):
            self._partial(obj, where, depth)
        elif isinstance(obj, type):
            if depth == 0 or not is_foreign_module(obj.__module__):
                self._namespace(obj, dict(vars(obj)), where, depth, "class")
        elif depth == 0 or not is_foreign_module(_home(obj)):
            self._instance(obj, where, depth)
            kind = type(obj)
            if depth <= 1 and not is_foreign_module(kind.__module__):
                # the attributes it reads through its class (``self._lock`` of a class attribute)
                self.walk(kind, kind.__qualname__, depth + 1)

    def _visit(
        self, owner: Any, value: Any, where: str, depth: int, make: Callable[[], Slot]
    ) -> None:
        if self.swappable(value):
            self.slots.append(make())
        elif self.containers and isinstance(value, _CONTAINERS):
            self._container(value, where, depth + 1)
        elif not isinstance(value, _LEAVES):
            self.walk(value, where, depth + 1)

    def _container(self, container: Any, where: str, depth: int) -> None:
        """Looking, not swapping: a dict's or list's items (for the failure advice only)."""
        if id(container) in self.seen or depth > MAX_DEPTH:
            return
        self.seen.add(id(container))
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in list(items)[:_CONTAINER_ITEMS]:
            place = f"{where}[{key!r}]"
            self._visit(
                container,
                value,
                place,
                depth,
                lambda place=place: ContainerSlot(  # type: ignore[misc]
                    container, place, f"{place}, an item of a {type(container).__name__}"
                ),
            )

    def _namespace(
        self,
        owner: Any,
        namespace: dict[str, Any],
        where: str,
        depth: int,
        kind: str,
        top: bool = False,
    ) -> None:
        for name, value in list(namespace.items()):
            if name.startswith("__") and name.endswith("__") and name != "__wrapped__":
                continue
            if top and not self.swappable(value) and _imported(value, self.root_module):
                continue  # another module's function or class (an imported factory is swapped)
            place = f"{where}.{name}"
            if kind == "module":
                holder = f"the global {place}"
            elif kind == "class":
                holder = f"the class attribute {place}"
            else:
                holder = f"{place}, an attribute of the function {where}"
            self._visit(
                owner,
                value,
                place,
                depth,
                lambda name=name, place=place, holder=holder: AttributeSlot(  # type: ignore[misc]
                    owner, name, place, holder
                ),
            )

    def _instance(self, obj: Any, where: str, depth: int) -> None:
        for name, value in _attributes(obj):
            if name.startswith("__") and name.endswith("__") and name != "__wrapped__":
                continue
            place = f"{where}.{name}"
            holder = f"{place}, an attribute of {where} ({describe(obj)})"
            self._visit(
                obj,
                value,
                place,
                depth,
                lambda name=name, place=place, holder=holder: AttributeSlot(  # type: ignore[misc]
                    obj, name, place, holder
                ),
            )

    def _function(self, func: types.FunctionType, where: str, depth: int) -> None:
        if depth > 0 and is_foreign_module(_home(func)):
            return
        for var, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell: nothing to swap yet
                continue
            self._visit(
                func,
                value,
                f"{where}.<closure {var}>",
                depth,
                lambda var=var, cell=cell: CellSlot(  # type: ignore[misc]
                    func, cell, f"{where}.<closure {var}>", f"the closure of {where} ({var})"
                ),
            )
        names = func.__code__.co_varnames[: func.__code__.co_argcount]
        defaults = func.__defaults__ or ()
        for index, value in enumerate(defaults):
            arg = (
                names[len(names) - len(defaults) + index] if len(names) >= len(defaults) else index
            )
            self._visit(
                func,
                value,
                f"{where}.<default {arg}>",
                depth,
                lambda index=index, arg=arg: DefaultSlot(  # type: ignore[misc]
                    func, index, f"{where}.<default {arg}>", f"the default of {arg} in {where}"
                ),
            )
        for key, value in list((func.__kwdefaults__ or {}).items()):
            self._visit(
                func,
                value,
                f"{where}.<default {key}>",
                depth,
                lambda key=key: KeywordDefaultSlot(  # type: ignore[misc]
                    func, key, f"{where}.<default {key}>", f"the default of {key} in {where}"
                ),
            )
        self._namespace(func, dict(vars(func)), where, depth, "function")

    def _partial(self, obj: functools.partial[Any], where: str, depth: int) -> None:
        holder = f"the arguments of {where} (a functools.partial)"
        self.walk(obj.func, f"{where}.func", depth + 1)
        for index, value in enumerate(obj.args):
            self._visit(
                obj,
                value,
                f"{where}.<arg {index}>",
                depth,
                lambda index=index: PartialSlot(obj, index, f"{where}.<arg {index}>", holder),  # type: ignore[misc]
            )
        for key, value in list(obj.keywords.items()):
            self._visit(
                obj,
                value,
                f"{where}.<arg {key}>",
                depth,
                lambda key=key: PartialSlot(obj, key, f"{where}.<arg {key}>", holder),  # type: ignore[misc]
            )


def _attributes(obj: Any) -> Iterator[tuple[str, Any]]:
    """An instance's own attributes: its ``__dict__`` and its ``__slots__`` members (no getattr)."""
    namespace = getattr(obj, "__dict__", None)
    if isinstance(namespace, dict):
        yield from list(namespace.items())
    for kind in type(obj).__mro__:
        for name, descriptor in list(vars(kind).items()):
            if isinstance(descriptor, types.MemberDescriptorType):
                try:
                    yield name, descriptor.__get__(obj, kind)
                except AttributeError:  # an unset slot
                    continue


def find_slots(
    target: Any, prefix: str, swappable: Callable[[Any], bool], *, containers: bool = False
) -> list[Slot]:
    """Every slot reachable from ``target`` that holds a swappable object, in a stable order.

    ``containers=True`` also looks inside dicts, lists and tuples -- to say where a
    primitive is, never to swap it there (a container is the user's data).
    """
    walker = _Walker(swappable, target, containers)
    walker.walk(target, prefix, 0)
    return walker.slots


def holders_of(value: Any, roots: list[tuple[Any, str]]) -> list[Slot]:
    """The slots, reachable from ``roots`` (object, name), that hold exactly ``value``."""
    found: list[Slot] = []
    for root, name in roots:
        found_here = find_slots(root, name, lambda candidate: candidate is value, containers=True)
        for slot in found_here:
            slot.root = name
            found.append(slot)
    return found


__all__ = ["MAX_DEPTH", "Slot", "describe", "find_slots", "holders_of", "is_foreign_module"]
