"""Which memory accesses of a failing schedule raced: the explanation of a lost update.

A failure at memory granularity is almost always two threads touching one
location with nothing ordering them. The failing schedule is replayed once
with tracing on anyway; :class:`ExplainingReplay` follows its choices exactly
(like :class:`~.strategies.ReplayStrategy`) and also observes its events the
way the reduction does (:class:`~.dpor.DPORStrategy`), so nothing is paid
while exploring.

What counts as a conflict. After the replay, happens-before is built with
vector clocks exactly as the reduction builds it: program order, thread
creation, and every pair of dependent accesses to one object (a lock's
release before the next acquire, a thread's end before the join that learns
of it, one memory access before a conflicting one). Two accesses to one
memory location by different threads, at least one a write, *conflict* when
the earlier one is not ordered before the later one through anything but
their own dependence -- the same test the reduction uses to find the races
it reverses. Reporting "the pairs whose order differs from the default
schedule" would be cheaper but wrong both ways: a locked update can run in
another order than the default one without any race, and a race the default
schedule happened to order the same way would be missed. Only the replayed
schedule's own pairs are reported (a race in another schedule is not this
failure's explanation), each distinct pair once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pytest_concurrency.world.dpor import DPORStrategy, vector_clocks
from pytest_concurrency.world.events import WRITE
from pytest_concurrency.world.locations import EVERYTHING, ITEMS, Key, conflict, is_item, is_memory
from pytest_concurrency.world.memory import MemoryAccess, describe
from pytest_concurrency.world.scheduler import ThreadRecord
from pytest_concurrency.world.strategies import ReplayStrategy

__all__ = ["Conflict", "ExplainingReplay", "describe_conflicts"]


@dataclass(frozen=True)
class Access:
    """One thread's read or write of a memory location, where the user's code made it."""

    thread: str
    #: "read" or "write"
    access: str
    #: the location: ``Counter.value``, ``dict['k']``, ``dict[items]``, ``module.x``
    what: str
    file: str
    line: int
    #: for one item of a container (``dict['k']``), all of its items (``dict[items]``)
    scope: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "?"


@dataclass(frozen=True)
class Conflict:
    """Two unordered accesses to one location by different threads, at least one a write.

    ``first`` ran before ``second`` in the reported schedule; nothing but their
    own order on the location (no lock, no join, no event) orders them.
    """

    first: Access
    second: Access

    @property
    def kind(self) -> str:
        """``write-write``, ``read-write`` or ``write-read`` (in the schedule's order)."""
        return f"{self.first.access}-{self.second.access}"

    @property
    def what(self) -> str:
        return self.first.what

    def marked(self, benign: Collection[str]) -> bool:
        """Is this conflict's location in ``benign`` (by its name, or its container's)?"""
        names = {self.first.what, self.second.what, self.first.scope, self.second.scope}
        return any(name in benign for name in names if name)

    def __str__(self) -> str:
        return (
            f"{self.kind} conflict on {self.what}: {self.first.thread} at {self.first.where} "
            f"and {self.second.thread} at {self.second.where}"
        )


#: one memory access of an event: (key, mode, location name, container-wide name, "file:line")
_Noted = tuple[Key, str, str, str, str]


class ExplainingReplay(DPORStrategy):
    """Replays recorded choices and observes every event, to find the racing accesses."""

    name = "replay"

    def __init__(self, choices: Sequence[int]) -> None:
        super().__init__(None)
        self._replay = ReplayStrategy(choices)
        #: per event: the memory accesses it made, with what and where
        self._noted: list[list[_Noted]] = []
        self._names: dict[int, str] = {}
        self.begin_run()

    @property
    def leftover(self) -> int:
        return self._replay.leftover

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        return self._replay.choose(enabled, current)

    def choose_step(self, enabled: list[ThreadRecord], default: ThreadRecord) -> ThreadRecord:
        return self._replay.choose_step(enabled, default)

    def observe(self, chosen: ThreadRecord, enabled: list[ThreadRecord]) -> None:
        events = len(self._events)
        super().observe(chosen, enabled)
        who = chosen.acting_for or chosen  # a loop thread running a task's step: the task
        self._names[who.index] = who.name
        if len(self._events) > events:
            self._noted.append([])  # a new event (else the same one goes on)
        pending = chosen.pending
        if pending is not None and isinstance(pending[1], MemoryAccess):
            self._noted[-1].extend(self._note(pending[1]))

    def touch(self, memory: object) -> None:
        super().touch(memory)
        if self._noted and isinstance(memory, MemoryAccess):
            self._noted[-1].extend(self._note(memory))

    def _note(self, access: MemoryAccess) -> list[_Noted]:
        keys = self._memory_keys(access)
        return [
            (
                key,
                mode,
                describe(obj, part),
                describe(obj, ITEMS) if is_item(part) else "",
                access.where,
            )
            for (key, mode), (obj, part, _m) in zip(keys, access.accesses, strict=True)
        ]

    def conflicts(self, *, across_threads: bool = False) -> tuple[Conflict, ...]:
        """The distinct unordered conflicting memory access pairs of the replayed run.

        ``across_threads``: only pairs made on two OS threads -- the data races;
        two tasks of one event loop never run at once, so theirs are not.
        """
        events = self._events
        found: dict[Conflict, None] = {}

        def pair(i: int, j: int, key: Key, other_key: Key, earlier: str, later: str) -> None:
            if (
                self._is_memory(key)
                and self._is_memory(other_key)
                and WRITE in (later, earlier)
                and not (across_threads and events[i].lane == events[j].lane)
            ):
                self._record(found, i, j, key)

        vector_clocks(events, self._creator, pair)
        return tuple(found)

    @staticmethod
    def _is_memory(key: Key) -> bool:
        return key is not EVERYTHING and is_memory(key)

    def _record(self, found: dict[Conflict, None], i: int, j: int, key: Key) -> None:
        for first in self._accesses(i, key):
            for second in self._accesses(j, key):
                if WRITE in (first[1], second[1]):
                    found.setdefault(
                        Conflict(self._access(i, first), self._access(j, second)), None
                    )

    def _accesses(self, index: int, key: Key) -> list[_Noted]:
        noted = self._noted[index] if index < len(self._noted) else []
        return [item for item in noted if conflict(item[0], key)]

    def _access(self, index: int, noted: _Noted) -> Access:
        _key, mode, what, scope, where = noted
        file, _, line = where.rpartition(":")
        thread = self._names.get(self._events[index].thread, f"T{self._events[index].thread}")
        return Access(
            thread,
            "write" if mode == WRITE else "read",
            what,
            file,
            int(line) if line.isdigit() else 0,
            scope,
        )


#: conflicts named in a failure message (all of them stay in ``failure.conflicts``)
CONFLICTS_SHOWN = 6


def describe_conflicts(conflicts: Sequence[Conflict]) -> list[str]:
    """The message lines naming the racing accesses (write-write first: the lost updates)."""
    if not conflicts:
        return []
    ranked = sorted(conflicts, key=lambda c: (c.kind != "write-write", c.what))
    lines = [str(conflict) for conflict in ranked[:CONFLICTS_SHOWN]]
    if len(ranked) > CONFLICTS_SHOWN:
        lines.append(f"... and {len(ranked) - CONFLICTS_SHOWN} more (see failure.conflicts)")
    return lines
