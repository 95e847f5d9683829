"""Code under test for the reduction's precision: dict and set operations of one key, and waits.

Each scenario records an outcome that depends on the order of its
operations, so that an exploration that skipped an order it should have run
shows up as a missing outcome. It lives in its own module so that the
scenario's file is traced by default.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from memory_subjects import run_threads

Outcomes = list[object]


def setdefault_race(keys: tuple[str, str], outcomes: Outcomes) -> Callable[[], None]:
    """Two threads ``setdefault`` their own value under ``keys[0]`` and ``keys[1]``."""

    def scenario() -> None:
        table: dict[str, str] = {}

        def put(key: str, value: str) -> None:
            table.setdefault(key, value)

        run_threads(lambda: put(keys[0], "first"), lambda: put(keys[1], "second"))
        outcomes.append(tuple(sorted(table.items())))

    return scenario


def present_setdefault(outcomes: Outcomes) -> Callable[[], None]:
    """Two threads ``setdefault`` a key that is already there: nothing changes, in any order."""

    def scenario() -> None:
        table = {"k": "old"}
        got: dict[str, str] = {}

        def put(value: str) -> None:
            got[value] = table.setdefault("k", value)  # each thread its own item of ``got``

        run_threads(lambda: put("first"), lambda: put("second"))
        outcomes.append(tuple(sorted(got.items())))

    return scenario


def pop_and_discard(outcomes: Outcomes) -> Callable[[], None]:
    """pop, discard, ``in`` and ``add`` of one key racing: each result depends on the order."""

    def scenario() -> None:
        table = {"k": 1}
        members = {"m"}
        seen: list[object] = []

        def remover() -> None:
            seen.append(("pop", table.pop("k", None)))
            members.discard("m")

        def reader() -> None:
            seen.append(("in", "k" in table))
            seen.append(("add", "m" in members))
            members.add("m")

        run_threads(remover, reader)
        outcomes.append((tuple(sorted(map(repr, seen))), tuple(sorted(members)), len(table)))

    return scenario


def whole_and_item(outcomes: Outcomes) -> Callable[[], None]:
    """An item write against whole-container reads (``len``, iteration, ``keys()``)."""

    def scenario() -> None:
        table: dict[str, int] = {"a": 1}
        seen: list[object] = []

        def writer() -> None:
            table["b"] = 2

        def reader() -> None:
            seen.append(sorted(table.keys()))
            keys = []
            try:
                for key in table:  # an iteration: every item
                    keys.append(key)
            except RuntimeError:  # the write landed in the middle of it
                keys.append("changed size")
            seen.append(keys)

        run_threads(writer, reader)
        outcomes.append(repr(seen))

    return scenario


class Cache:
    """The double-checked cache of the benchmark, remembering whose lock and whose build won."""

    def __init__(self) -> None:
        self.cache: dict[str, int] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.winner = -1

    def get(self, key: str, me: int) -> int:
        value = self.cache.get(key)
        if value is not None:
            return value
        mine = threading.Lock()
        lock = self.locks.setdefault(key, mine)
        if lock is mine:
            self.winner = me
        with lock:
            value = self.cache.get(key)
            if value is not None:
                return value
            self.cache[key] = me
            return me


def winners_and_builders(outcomes: Outcomes) -> Callable[[], None]:
    """Three cold callers: whose lock the map keeps, and who builds, in every combination."""

    def scenario() -> None:
        cache = Cache()
        run_threads(*(lambda me=me: cache.get("key", me) for me in range(3)))
        outcomes.append((cache.winner, cache.cache["key"]))

    return scenario


def _loop(table: dict[str, int]) -> list[str]:
    keys = []
    for key in table:
        keys.append(key)
    return keys


def _view(table: dict[str, int]) -> list[str]:
    keys = []
    for key, _value in table.items():
        keys.append(key)
    return keys


def _comprehension(table: dict[str, int]) -> list[str]:
    return [key for key in table]  # noqa: C416 - a comprehension's loop, on purpose


def _generator(table: dict[str, int]) -> list[str]:
    return list(key for key in table)  # noqa: C400 - a generator's loop, on purpose


ITERATIONS = {
    "loop": _loop,
    "view": _view,
    "comprehension": _comprehension,
    "generator": _generator,
}


def insert_while_iterating(iterate: Callable[[dict[str, int]], list[str]]) -> Callable[[], None]:
    """One thread inserts a key while another iterates: ``changed size during iteration``."""

    def scenario() -> None:
        table = {"a": 1, "b": 2}
        run_threads(lambda: table.setdefault("c", 3), lambda: iterate(table))

    return scenario
