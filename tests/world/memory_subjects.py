"""Code under test for memory granularity: each race in plain Python, and its locked twin.

It lives in its own module so that the default ``trace=`` selection (the
scenario's file) covers it, as it would cover a user's project.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable

Outcomes = list[object]


def run_threads(*targets: Callable[[], object]) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Counter:
    def __init__(self, locked: bool) -> None:
        self.value = 0
        self.lock = threading.Lock() if locked else None

    def add(self) -> None:
        if self.lock is None:
            self.value += 1
        else:
            with self.lock:
                self.value += 1


def counter(threads: int, *, locked: bool) -> Callable[[], None]:
    def scenario() -> None:
        shared = Counter(locked)
        run_threads(*([shared.add] * threads))
        assert shared.value == threads, f"lost an update: {shared.value}"

    return scenario


def check_then_set(*, locked: bool) -> Callable[[], None]:
    def scenario() -> None:
        items: dict[str, object] = {}
        made: list[int] = []
        lock = threading.Lock()

        def get() -> None:
            with lock if locked else _nothing():
                if "k" not in items:
                    made.append(1)
                    items["k"] = object()

        run_threads(get, get)
        assert len(made) == 1, "made twice"

    return scenario


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


class DoubleChecked:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: dict[str, object] = {}
        self.builds = 0

    def get(self, key: str) -> object:
        value = self.data.get(key)
        if value is None:
            with self.lock:
                value = self.data.get(key)
                if value is None:
                    self.builds += 1
                    value = object()
                    self.data[key] = value
        return value


def double_checked(callers: int) -> Callable[[], None]:
    def scenario() -> None:
        cache = DoubleChecked()
        run_threads(*[lambda: cache.get("k")] * callers)
        assert cache.builds == 1, f"built {cache.builds} times"

    return scenario


def two_locks_in_order() -> Callable[[], None]:
    def scenario() -> None:
        first, second = threading.Lock(), threading.Lock()
        box = {"n": 0}

        def work() -> None:
            with first, second:
                box["n"] += 1

        run_threads(work, work)
        assert box["n"] == 2

    return scenario


class Jobs:
    """A heap changed inside a C function (heapq): no point sees the write itself."""

    def __init__(self) -> None:
        self.heap: list[int] = []

    def push(self, item: int) -> None:
        heapq.heappush(self.heap, item)


def heap_race() -> Callable[[], None]:
    def scenario() -> None:
        jobs = Jobs()
        seen: list[int] = []
        run_threads(lambda: jobs.push(1), lambda: seen.append(len(jobs.heap)))
        assert seen == [1], "read the heap before the push"

    return scenario


TOTAL = 0


def bump_global() -> None:
    global TOTAL
    TOTAL += 1


def global_race() -> Callable[[], None]:
    def scenario() -> None:
        global TOTAL
        TOTAL = 0
        run_threads(bump_global, bump_global)
        assert TOTAL == 2, "lost a global update"

    return scenario


def closure_race() -> Callable[[], None]:
    def scenario() -> None:
        count = 0

        def bump() -> None:
            nonlocal count
            count += 1

        run_threads(bump, bump)
        assert count == 2, "lost a closure update"

    return scenario


class Config:
    limit = 1  # class-level data, shadowed by an instance write


def class_attribute_race() -> Callable[[], None]:
    def scenario() -> None:
        config = Config()
        seen: list[int] = []

        def set_limit() -> None:
            config.limit = 5

        run_threads(set_limit, lambda: seen.append(config.limit))
        assert seen == [5], "read the class default"

    return scenario


def outcomes_of_unlocked_appends(outcomes: Outcomes) -> Callable[[], None]:
    """Three threads append to one list with no lock: every order is an outcome."""

    def scenario() -> None:
        order: list[int] = []
        run_threads(*(lambda n=n: order.append(n) for n in range(3)))
        outcomes.append(tuple(order))

    return scenario


def outcomes_of_attribute_reads(outcomes: Outcomes) -> Callable[[], None]:
    """A writer and two readers of one attribute, and an unrelated attribute."""

    def scenario() -> None:
        state = Counter(locked=False)
        state.other = 0  # type: ignore[attr-defined]
        seen: list[int] = []

        def write() -> None:
            state.value = 1
            state.other = 1  # type: ignore[attr-defined]

        run_threads(write, lambda: seen.append(state.value), lambda: seen.append(state.value))
        outcomes.append(tuple(seen))

    return scenario


def outcomes_of_untraced_methods(outcomes: Outcomes) -> Callable[[], None]:
    """Calls into a class whose code is not traced: their order still matters."""
    from untraced_box import Box

    def scenario() -> None:
        box = Box()
        seen: list[int] = []
        run_threads(lambda: box.set(1), lambda: seen.append(box.get()))
        outcomes.append(tuple(seen))

    return scenario


class Plain:
    """An object whose attributes live in its ``__dict__``."""


def _set_attribute(box: Plain) -> None:
    box.x = 1  # type: ignore[attr-defined]


def _set_through_dict(box: Plain) -> None:
    box.__dict__["x"] = 1


def _set_through_vars(box: Plain) -> None:
    vars(box)["x"] = 1


def _read_attribute(box: Plain) -> object:
    try:
        return box.x  # type: ignore[attr-defined]
    except AttributeError:
        return None


def _read_in_dict(box: Plain) -> object:
    return 1 if "x" in box.__dict__ else None


#: the ways to write attribute ``x`` of an object: as an attribute, or as an item of its dict
ATTRIBUTE_WRITERS: dict[str, Callable[[Plain], object]] = {
    "attribute": _set_attribute,
    "setattr": lambda box: setattr(box, "x", 1),
    "dict_item": _set_through_dict,
    "dict_setdefault": lambda box: box.__dict__.setdefault("x", 1),
    "dict_update": lambda box: box.__dict__.update(x=1),
    "vars_item": _set_through_vars,
    "vars_update": lambda box: vars(box).update(x=1),
}
#: the ways to read it
ATTRIBUTE_READERS: dict[str, Callable[[Plain], object]] = {
    "attribute": _read_attribute,
    "getattr": lambda box: getattr(box, "x", None),
    "dict_get": lambda box: box.__dict__.get("x"),
    "vars_get": lambda box: vars(box).get("x"),
    "in_dict": _read_in_dict,
}


def attribute_read_before_write(
    write: Callable[[Plain], object], read: Callable[[Plain], object]
) -> Callable[[], None]:
    """One thread writes ``x``, another reads it: the read may come first (a stale read)."""

    def scenario() -> None:
        box = Plain()
        seen: Outcomes = []
        run_threads(lambda: write(box), lambda: seen.append(read(box)))
        assert seen == [1], f"read {seen[0]!r} before the write"

    return scenario
