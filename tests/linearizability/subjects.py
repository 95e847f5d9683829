"""Objects under test: correct ones, and three classic non-linearizable ones."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class LockedDeque:
    """A deque whose operations each hold one lock: linearizable."""

    def __init__(self) -> None:
        self.items: deque[int] = deque()
        self.lock = threading.Lock()

    def append(self, item: int) -> None:
        with self.lock:
            self.items.append(item)

    def popleft_or_none(self) -> int | None:
        with self.lock:
            return self.items.popleft() if self.items else None


class RacyCounter:
    """``self.value += 1`` without a lock: two increments can both return 1."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> int:
        self.value += 1
        return self.value


class CheckThenPopQueue:
    """Checks for an item, then pops it: two takers can both see the last one."""

    def __init__(self) -> None:
        self.items: list[int] = []

    def put(self, item: int) -> None:
        self.items.append(item)

    def take(self) -> int | None:
        if self.items:
            return self.items.pop(0)
        return None


class CheckThenCreateRegistry:
    """Creates an entry when it sees none: two callers can each create one for a key."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}
        self.created = 0

    def get_or_create(self, key: str) -> int:
        if key not in self.entries:
            self.created += 1
            self.entries[key] = self.created
        return self.entries[key]


class SequentialRegistry:
    """The registry's sequential model: the first call for a key creates its entry."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}

    def get_or_create(self, key: str) -> int:
        return self.entries.setdefault(key, len(self.entries) + 1)


def total(operations: list[list[Any]]) -> int:
    return sum(len(column) for column in operations)


class LoadedOnce:
    """A build-once cache's sequential model: a key's value is its loader's result, kept."""

    def __init__(self) -> None:
        self.values: dict[int, int] = {}

    def get(self, key: int) -> int:
        return self.values.setdefault(key, key * 10)
