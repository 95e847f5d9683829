"""Scenarios whose failures must explain themselves (racing accesses, replays).

They live in a module of their own so that the default ``trace=`` selection
(the scenario's file) covers the code they race on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_threads(*targets: Callable[[], object]) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()

    def add(self) -> None:
        self.value += 1  # RACY LINE

    def add_locked(self) -> None:
        with self.lock:
            self.value += 1  # LOCKED LINE


def lost_update() -> None:
    counter = Counter()
    run_threads(counter.add, counter.add)
    assert counter.value == 2, f"lost an update: {counter.value}"


def locked_but_wrong() -> None:
    """Fails in every schedule, and no access races: the lock orders them."""
    counter = Counter()
    run_threads(counter.add_locked, counter.add_locked)
    assert counter.value == 3, "expected three"


class Flag:
    def __init__(self) -> None:
        self.ready = False
        self.data = 0


def stale_read() -> None:
    """A read-write race: the reader may see the flag before the data."""
    flag = Flag()
    seen: list[int] = []

    def writer() -> None:
        flag.ready = True  # FLAG WRITE
        flag.data = 1

    def reader() -> None:
        if flag.ready:  # FLAG READ
            seen.append(flag.data)

    run_threads(writer, reader)
    assert seen in ([], [1]), f"read stale data: {seen}"


#: how many times :func:`flaky` ran (state kept between runs: not deterministic)
RUNS = [0]


def flaky() -> None:
    """Fails on every second run, whatever the schedule."""
    RUNS[0] += 1
    assert RUNS[0] % 2, "every second run fails"


def line_of(marker: str) -> int:
    """The line of this module that carries ``marker``."""
    with open(__file__, encoding="utf-8") as source:
        for number, text in enumerate(source, 1):
            if marker in text and "def line_of" not in text and "marker in" not in text:
                return number
    raise LookupError(marker)


class Config:
    def __init__(self) -> None:
        self.flag = False
        self.lock = threading.Lock()


def racy_flag() -> None:
    """A data race every assertion tolerates: one thread sets a flag another reads."""
    config = Config()
    seen: list[bool] = []

    def setter() -> None:
        config.flag = True  # RACY FLAG WRITE

    def reader() -> None:
        seen.append(config.flag)  # RACY FLAG READ

    run_threads(setter, reader)
    assert seen in ([False], [True])


def locked_flag() -> None:
    """The same flag under a lock: no race."""
    config = Config()
    seen: list[bool] = []

    def setter() -> None:
        with config.lock:
            config.flag = True

    def reader() -> None:
        with config.lock:
            seen.append(config.flag)

    run_threads(setter, reader)
    assert seen in ([False], [True])
