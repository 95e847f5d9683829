"""The history of one schedule: each operation's thread, call, outcome and its interval.

The recorder lives in this package, which the explorer never traces: its
counter is harness state, not shared memory of the code under test, so
recording adds no scheduling points and no conflicts. Inside a run only one
thread runs at a time, so a plain counter, incremented at each invocation and
each response, orders the events deterministically.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_concurrency.linearizability.scenario import Call

#: the thread label of the sequential prefix and suffix
MAIN = "main"


class ModelWaited(RuntimeError):
    """A sequential model's coroutine waited for something: a model must not depend on others."""


#: a model coroutine yielding this many times in a row (``sleep(0)``) is not finishing
_MAX_YIELDS = 10_000


def _finished(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """A sequential model's coroutine, run to its end without a loop.

    A bare yield (``await asyncio.sleep(0)``) is passed over; waiting for a
    future (a sleep, a lock someone holds, I/O) is an error: nothing else runs
    while a model operation runs, so nothing would ever end that wait.
    """
    try:
        for _ in range(_MAX_YIELDS):
            if coroutine.send(None) is not None:
                break
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise ModelWaited(
        "a model operation awaited something that waits (a sleep, a lock someone holds): "
        "a sequential model runs one operation at a time and must never wait; give "
        "check_linearizable a model= whose operations finish without waiting"
    )


@dataclass(frozen=True)
class Outcome:
    """What an operation did: returned ``value``, or raised ``error``."""

    value: Any = None
    error: BaseException | None = None

    @classmethod
    def of(cls, call: Callable[[], Any]) -> Outcome:
        """Run ``call``; a coroutine it returns is run to its end without a loop (a model's)."""
        try:
            value = call()
            if inspect.iscoroutine(value):
                value = _finished(value)
            return cls(value=value)
        except ModelWaited:
            raise
        except Exception as error:  # an operation's exception is part of its outcome
            return cls(error=error)

    @classmethod
    async def awaited(cls, call: Callable[[], Any]) -> Outcome:
        """Run ``call`` and await what it returns when that is awaitable (a task's operation)."""
        try:
            value = call()
            if inspect.isawaitable(value):
                value = await value
            return cls(value=value)
        except Exception as error:
            return cls(error=error)

    def matches(self, other: Outcome) -> bool:
        """Same value (==), or an exception of the same type with the same args."""
        if self.error is not None or other.error is not None:
            return (
                self.error is not None
                and other.error is not None
                and type(self.error) is type(other.error)
                and self.error.args == other.error.args
            )
        try:
            return bool(self.value == other.value)
        except Exception:
            return False

    def told(self, returned: str, raised: str) -> str:
        """The outcome in a sentence: ``returned`` or ``raised`` followed by what."""
        if self.error is not None:
            return f"{raised} {str(self).removeprefix('raises ')}"
        return f"{returned} {self}"

    def __str__(self) -> str:
        if self.error is not None:
            shown = ", ".join(repr(arg) for arg in self.error.args)
            return f"raises {type(self.error).__name__}({shown})"
        return repr(self.value)


@dataclass(frozen=True)
class Entry:
    """One operation of a history: ``invoked`` and ``responded`` are its event numbers."""

    index: int
    thread: str
    call: Call
    outcome: Outcome
    invoked: int
    responded: int

    def __str__(self) -> str:
        return f"{self.thread} {self.call} -> {self.outcome}"


@dataclass
class Recorder:
    """Collects the entries of one run (a fresh recorder per run)."""

    clock: int = 0
    entries: list[Entry] = field(default_factory=list)

    def run(self, thread: str, call: Call, operation: Callable[[], Any]) -> Outcome:
        """Run one operation and record it between an invocation and a response event."""
        self.clock += 1
        invoked = self.clock
        outcome = Outcome.of(operation)
        self.clock += 1
        self.entries.append(Entry(len(self.entries), thread, call, outcome, invoked, self.clock))
        return outcome

    async def run_async(self, thread: str, call: Call, operation: Callable[[], Any]) -> Outcome:
        """:meth:`run` for an operation of a task: awaited between its two events."""
        self.clock += 1
        invoked = self.clock
        outcome = await Outcome.awaited(operation)
        self.clock += 1
        self.entries.append(Entry(len(self.entries), thread, call, outcome, invoked, self.clock))
        return outcome

    def history(self) -> tuple[Entry, ...]:
        """The entries in invocation order."""
        return tuple(sorted(self.entries, key=lambda entry: entry.invoked))


def draw(history: Sequence[Entry]) -> str:
    """The history as one column per thread, one row per event (call, then return)."""
    threads: list[str] = []
    for entry in sorted(history, key=lambda entry: entry.invoked):
        if entry.thread not in threads:
            threads.append(entry.thread)
    events: list[tuple[int, Entry, bool]] = []
    for entry in history:
        events.append((entry.invoked, entry, True))
        events.append((entry.responded, entry, False))
    events.sort(key=lambda event: event[0])
    cells = [
        (
            number,
            threads.index(entry.thread),
            f"{entry.call} ..." if start else f"-> {entry.outcome}",
        )
        for number, entry, start in events
    ]
    width = max([len(name) for name in threads] + [len(text) for _, _, text in cells]) + 2
    lines = ["      " + "".join(name.ljust(width) for name in threads).rstrip()]
    for number, column, text in cells:
        lines.append(f"{number:>4}  " + (" " * width * column + text).rstrip())
    return "\n".join(lines)
