"""A controlled stand-in for ``queue.SimpleQueue`` (a C type in CPython).

``queue.Queue``, ``LifoQueue`` and ``PriorityQueue`` need no stand-in: they are
pure Python over ``threading.Lock``/``Condition`` and ``queue.time``, which are
controlled during a run. ``SimpleQueue`` matters because ThreadPoolExecutor
feeds its workers through one.
"""

from __future__ import annotations

import queue
import types
from collections import deque
from typing import TYPE_CHECKING, Any

from pytest_concurrency._stdlib.args import queue_timeout
from pytest_concurrency.world.primitives import Primitive

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import Scheduler


class SimpleQueue(Primitive):
    """An unbounded FIFO queue: ``put`` never blocks, ``get`` waits for an item."""

    __slots__ = ("_items",)

    KIND = "SimpleQueue"

    __class_getitem__: Any = classmethod(types.GenericAlias)

    def __init__(self, sched: Scheduler, name: str | None = None) -> None:
        super().__init__(sched, name)
        self._items: deque[Any] = deque()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self._sched.point("put", self)
        self._items.append(item)

    def put_nowait(self, item: Any) -> None:
        self.put(item, False)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        queue_timeout(block, timeout)
        sched = self._sched
        me = sched.point("get", self)
        deadline = sched.deadline_after(timeout)
        while not self._items:
            if not block or (deadline is not None and deadline <= sched.now):
                raise queue.Empty
            sched.block(me, self._has_items, deadline, "get", self)
        return self._items.popleft()

    def get_nowait(self) -> Any:
        return self.get(False)

    def empty(self) -> bool:
        self._sched.point("empty", self)
        return not self._items

    def qsize(self) -> int:
        self._sched.point("qsize", self)
        return len(self._items)

    def _has_items(self) -> bool:
        return bool(self._items)
