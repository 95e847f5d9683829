"""Locations: what an access touches, and which two locations may be the same memory.

A partial-order reduction (:mod:`.dpor`) and the explanation of a failure
(:mod:`.conflicts`) both ask one question of a pair of accesses: could they
touch the same thing? The answer lives here, once.

A location is a pair ``(owner, part)``:

- a controlled primitive or a thread: ``("Lock", 3)``, ``("thread", 2)`` (its
  kind and creation number, the same in every run that creates it the same way);
- memory: ``(n, part)`` where ``n`` numbers the object in the order the run
  first touched it (``UNKNOWN`` when the code's operand could not be resolved)
  and ``part`` is an attribute name, ``ITEMS`` (all of a container's items),
  one item (``item(key)``: a dict key or a set element), ``STATE`` (all of the
  object: an untraced method ran on it) or ``"cell:name"`` (a closure cell);
- ``EVERYTHING``: an event whose object is unknown (an explicit checkpoint).

Two memory locations *overlap* when their owners may be one object (the same
number, or one of them unknown) and their parts may be the same memory:
equal parts, ``STATE`` against any part of its object, ``ITEMS`` against any
single item. An object and the dict holding its attributes (``obj.__dict__``,
``vars(obj)``, a module and its globals) get one number, and an item of that
dict is the attribute of the same name: ``ITEMS`` meets every attribute, and
``item("x")`` meets ``"x"``. Two items of one dict with different keys never overlap -- the
precision that lets two callers of one cache with different keys commute.
"""

from __future__ import annotations

from collections.abc import Iterable

#: a run-stable identity of what an access touches: ("Lock", 3), ("thread", 2), (5, "value")
Key = tuple[object, object]

#: the key of an event that may touch anything
EVERYTHING: Key = ("*", None)
#: the owner of a memory location whose object is not known: it meets every object
UNKNOWN = "?"
#: the location of a container's items, as a part of the container
ITEMS = "[items]"
#: all of an object's state: what a method whose code is not traced may have touched
STATE = "[state]"
#: the first element of an item part: ``(ITEM, key)``
ITEM = "[]"
#: closure cells are keyed by name: ``(UNKNOWN, "cell:x")``
CELL = "cell:"


def item(key: object) -> tuple[str, object]:
    """The part naming one item of a dict (its key) or one element of a set."""
    return (ITEM, key)


def is_item(part: object) -> bool:
    return type(part) is tuple and len(part) == 2 and part[0] == ITEM


def is_memory(key: Key) -> bool:
    """A memory location (numbered or unknown object), not a primitive, thread or everything."""
    owner = key[0]
    return type(owner) is int or owner == UNKNOWN


def _attribute(part: object) -> bool:
    """An attribute name (or a global's): the same memory as the item of that name of the
    dict holding the attributes."""
    return isinstance(part, str) and part not in (ITEMS, STATE) and not part.startswith(CELL)


def overlap(first: object, second: object) -> bool:
    """Could two parts of one object be the same memory?"""
    if first == second:
        return True
    if first == STATE:
        return not (isinstance(second, str) and second.startswith(CELL))
    if second == STATE:
        return not (isinstance(first, str) and first.startswith(CELL))
    if first == ITEMS:
        return is_item(second) or _attribute(second)
    if second == ITEMS:
        return is_item(first) or _attribute(first)
    if is_item(first):
        return _attribute(second) and first[1] == second  # type: ignore[index]
    if is_item(second):
        return _attribute(first) and second[1] == first  # type: ignore[index]
    return False


def conflict(first: Key, second: Key) -> bool:
    """Could accesses to these two locations touch the same thing?"""
    if first == second or first is EVERYTHING or second is EVERYTHING:
        return True
    if not (is_memory(first) and is_memory(second)):
        return False
    if first[0] != second[0] and UNKNOWN not in (first[0], second[0]):
        return False
    return overlap(first[1], second[1])


def conflict_across_runs(current: Key, recorded: Key, base: int) -> bool:
    """:func:`conflict` between a key of this run and one recorded by an earlier run.

    Both runs made the same events up to a point where ``base`` memory objects
    had been numbered; below ``base`` the numbers name the same objects in
    both. An object numbered ``base`` or more was first touched after that
    point, possibly in another order in each run: such a number names *some*
    object neither run had touched before, so two of them are compared by part
    alone (they may be one object), and one of them never meets an object
    touched before the point.
    """
    if type(current[0]) is int and type(recorded[0]) is int:
        fresh = current[0] >= base
        if fresh != (recorded[0] >= base):
            return False
        if fresh:
            return overlap(current[1], recorded[1])
    return conflict(current, recorded)


class LocationIndex:
    """The latest access to each location by each (thread, mode), found by overlap.

    ``latest`` answers "which earlier accesses may touch what this key
    names?" without comparing against every location seen: a memory key is
    looked up among the keys of its own object and of unknown objects.
    """

    __slots__ = ("_by_owner", "_unknown", "latest")

    def __init__(self) -> None:
        #: key -> (thread, mode) -> index of the latest event that touched it so
        self.latest: dict[Key, dict[tuple[int, str], int]] = {}
        #: memory owner -> the keys seen with it (dicts: an order that is the same every run)
        self._by_owner: dict[object, dict[Key, None]] = {}
        #: keys with an unknown owner (they meet every object)
        self._unknown: dict[Key, None] = {}

    def record(self, key: Key, thread: int, mode: str, event: int) -> None:
        entry = self.latest.get(key)
        if entry is None:
            entry = self.latest[key] = {}
            if key is not EVERYTHING and is_memory(key):
                self._by_owner.setdefault(key[0], {})[key] = None
                if key[0] == UNKNOWN:
                    self._unknown[key] = None
        entry[(thread, mode)] = event

    def earlier(self, key: Key) -> Iterable[tuple[Key, tuple[int, str], int]]:
        """Every recorded (key, (thread, mode), event) that may touch what ``key`` names."""
        latest = self.latest
        if key is EVERYTHING:
            candidates: Iterable[Key] = list(latest)
        elif not is_memory(key):
            candidates = (key, EVERYTHING)
        elif key[0] == UNKNOWN:
            candidates = [other for other in latest if other is EVERYTHING or is_memory(other)]
        else:
            found = dict(self._by_owner.get(key[0], {}))
            found.update(self._unknown)
            found[EVERYTHING] = None
            candidates = found
        for other in candidates:
            entry = latest.get(other)
            if entry is None or not conflict(key, other):
                continue
            for who, index in entry.items():
                yield other, who, index
