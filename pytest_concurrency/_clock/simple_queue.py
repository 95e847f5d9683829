"""``queue.SimpleQueue`` whose blocking ``get`` parks on the fake clock.

``ThreadPoolExecutor`` (and so asyncio's default executor) keeps its idle
workers blocked in ``SimpleQueue.get()``, a C call the clock cannot see. An
executor worker blocked there must count as *idle*, or the driver could never
autojump while a pool is alive; so while a clock is installed, ``SimpleQueue()``
called in scope builds this one. ``put`` never blocks and takes no lock of its
own (the C queue's re-entrancy promise: it may run from a ``__del__`` or a
garbage-collector callback), only the timeline's re-entrant one to wake a getter.
"""

from __future__ import annotations

import queue
from collections import deque
from typing import Any

from pytest_concurrency._clock import scoped
from pytest_concurrency._clock.locks import WaitList, clock_now, park_on
from pytest_concurrency._stdlib.args import queue_timeout

_RealSimpleQueue = queue.SimpleQueue


class VirtualSimpleQueue:
    """The ``SimpleQueue`` interface: ``put``/``get`` (+ ``_nowait``), ``empty``, ``qsize``."""

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._getters = WaitList()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self._items.append(item)
        self._getters.wake_one()

    def put_nowait(self, item: Any) -> None:
        self.put(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        queue_timeout(block, timeout)
        items = self._items
        end = None if timeout is None else clock_now() + timeout
        while True:
            try:
                return items.popleft()
            except IndexError:
                pass
            remaining = None if end is None else end - clock_now()
            if not block or (remaining is not None and remaining <= 0):
                raise queue.Empty
            park_on(self._getters, "SimpleQueue.get", remaining, lambda: bool(items))

    def get_nowait(self) -> Any:
        return self.get(False)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def __class_getitem__(cls, item: Any) -> Any:
        return cls


class _SimpleQueueFactoryMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, (_RealSimpleQueue, VirtualSimpleQueue))


class SimpleQueueFactory(metaclass=_SimpleQueueFactoryMeta):
    """Installed as ``queue.SimpleQueue``: the virtual queue in scope, the C one elsewhere."""

    def __new__(cls) -> Any:
        if scoped.current() is not None:
            return VirtualSimpleQueue()
        return _RealSimpleQueue()

    def __class_getitem__(cls, item: Any) -> Any:
        return cls
