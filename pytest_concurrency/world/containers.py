"""What an operation on a builtin container touches: one item or all of them, read or write.

At memory granularity a container operation is an access of the container's
items (:mod:`.memory`). Judged by the method's name alone, ``d.setdefault(k,
v)`` writes and ``d.get(k)`` reads *all* of ``d``: two callers of one cache
then conflict on every lookup, even when neither changes anything or they
use different keys. Where the key is known at the point (a local variable or
a constant) and the container is a plain ``dict`` or ``set`` (or one of the
``collections`` dicts whose item operations behave the same), the access is
precise:

- it touches the *item* ``key`` only, so operations on different keys
  commute, while anything that sees the whole container (iteration, ``len``,
  ``keys()``, ``update``, ``clear``, ``popitem``...) still conflicts with
  every item;
- its mode follows its *effect*, decided when it is about to run (see
  :class:`~.memory.MemoryAccess`): ``setdefault`` and ``set.add`` of a key
  already present change nothing, so they only read; ``pop``, ``discard``,
  ``remove`` and ``del`` of a missing key change nothing (they raise or return
  the default), so they only read too.

Why this stays sound: two operations on different keys of a dict or set
commute -- neither can see the other, as long as neither looks at the whole
(size, order, iteration), and those that do are whole-container accesses.
An operation whose effect is "nothing" leaves the container exactly as it
was, which a read also does; whether it changes nothing is decided in the
state it runs in, and any write that would make it change something
conflicts with it (same item), so the reduction reverses them. Keys are taken
only when they are plain values (``str``, ``int``, ``bytes``, ``bool``,
``None`` and tuples of them): their equality is fixed and runs no user code,
so the same key means the same item in every run.
"""

from __future__ import annotations

import collections

from pytest_concurrency.world.events import READ, WRITE
from pytest_concurrency.world.locations import ITEMS, item

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

#: a mode decided when the access is about to run: a write if the key is absent, else a read
WRITE_IF_ABSENT = "w-if-absent"
#: a write if the key is present, else a read
WRITE_IF_PRESENT = "w-if-present"

#: containers whose single-key operations touch that key's item alone
_DICTS: frozenset[type] = frozenset(
    {dict, collections.OrderedDict, collections.defaultdict, collections.Counter}
)
_SETS: frozenset[type] = frozenset({set})

#: dict methods of one key, by the mode of their effect
_DICT_METHODS = {
    "get": READ,
    "__getitem__": READ,
    "__contains__": READ,
    "setdefault": WRITE_IF_ABSENT,
    "pop": WRITE_IF_PRESENT,
    "__setitem__": WRITE,
    "__delitem__": WRITE_IF_PRESENT,
}
_SET_METHODS = {
    "__contains__": READ,
    "add": WRITE_IF_ABSENT,
    "discard": WRITE_IF_PRESENT,
    "remove": WRITE_IF_PRESENT,
}
#: subscript and ``in`` instructions, as the method they call
SUBSCRIPT_LOAD = "__getitem__"
SUBSCRIPT_STORE = "__setitem__"
SUBSCRIPT_DELETE = "__delitem__"
CONTAINS = "__contains__"

#: key types whose equality is fixed and runs no user code (no subclasses: they may override it)
_PLAIN: frozenset[type] = frozenset({str, int, bool, bytes, type(None)})
#: the key argument was not known at the point
NO_KEY = object()


def is_plain_key(key: object) -> bool:
    """A plain value, or a tuple of them: the same key names the same item in every run."""
    kind = type(key)
    if kind is tuple:
        return all(is_plain_key(part) for part in key)  # type: ignore[attr-defined]
    return kind in _PLAIN


def container_access(container: object, method: str, key: object = NO_KEY) -> tuple[object, str]:
    """(part, mode) of calling ``method`` on a builtin ``container`` with first argument ``key``.

    ``key`` is left out when it is not known at the point; the mode may be one
    to decide when the access runs (:func:`decide`).
    """
    kind = type(container)
    if key is not NO_KEY and is_plain_key(key):
        if kind in _DICTS:
            mode = _DICT_METHODS.get(method)
            if mode is not None:
                if (
                    method == SUBSCRIPT_LOAD
                    and kind is collections.defaultdict
                    and container.default_factory is not None  # type: ignore[attr-defined]
                ):
                    mode = WRITE_IF_ABSENT  # a missing key is made by the default factory
                return item(key), mode
        elif kind in _SETS:
            mode = _SET_METHODS.get(method)
            if mode is not None:
                return item(key), mode
    if method in (SUBSCRIPT_LOAD, CONTAINS):
        return ITEMS, READ
    return ITEMS, WRITE if method in MUTATORS else READ


def decide(container: object, part: object, mode: str) -> str:
    """READ or WRITE for an item access whose mode depends on whether its key is present."""
    if mode == WRITE_IF_ABSENT:
        return READ if _present(container, part) else WRITE
    if mode == WRITE_IF_PRESENT:
        return WRITE if _present(container, part) else READ
    return mode


def _present(container: object, part: object) -> bool:
    return part[1] in container  # type: ignore[index,operator]
