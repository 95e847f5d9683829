"""A lazily initialised singleton without a lock: two threads both construct it.

``if _instance is None: _instance = Connection()`` -- both threads can see
``None`` before either has stored its instance, and two connections are
opened. The fixed twin is the double-checked form: a second check under a
module-level lock. That lock exists before any exploration, so exploring this
module needs ``patch=[lazy_singleton]`` (as run_slot does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pytest_concurrency.demo.zoo.finer import start_and_join


class Connection:
    """Stands for something expensive that must exist once."""

    opened = 0

    def __init__(self) -> None:
        Connection.opened += 1


_instance: Connection | None = None
_lock = threading.Lock()


def reset() -> None:
    """Forget the instance: each scenario starts from a cold module."""
    global _instance
    _instance = None
    Connection.opened = 0


def buggy_connection() -> Connection:
    global _instance
    if _instance is None:
        _instance = Connection()
    return _instance


def fixed_connection() -> Connection:
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = Connection()
    return _instance


def _two_users(connection: Callable[[], Connection]) -> None:
    reset()
    got: list[Connection] = []

    def user() -> None:
        got.append(connection())

    start_and_join(user, user)
    assert Connection.opened == 1, f"the singleton was constructed {Connection.opened} times"
    assert got[0] is got[1]


def buggy() -> None:
    _two_users(buggy_connection)


def fixed() -> None:
    _two_users(fixed_connection)
