"""Leaked child processes: children of this process at the end of a check, not at its start.

On Linux our children are listed by ``/proc/self/task/*/children`` (or, on
kernels without it, by scanning every ``/proc/<pid>/stat``), and each one's
``stat`` confirms its parent pid; a child is identified by pid *and* start
time, so a recycled pid is still a new child. Elsewhere only
:mod:`multiprocessing` children are visible (and only if the program uses
multiprocessing), which the report notes.

Children are given the grace period to exit. A child that exited but was never
waited for is a *zombie*: it is reported too, and said to be one -- the bug is
the missing ``wait()``. Reaping it here would hide that bug and steal the exit
status from its owner.

Process-wide helpers that :mod:`multiprocessing` starts lazily and keeps for
the life of the program (its resource tracker and forkserver) are not leaks.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import ClassVar

from pytest_concurrency import _realtime
from pytest_concurrency._patching import Patcher
from pytest_concurrency.leaks.core import Findings, Leak

_PROC = "/proc"
_POLL_SECONDS = 0.01
_HELPER_COMMANDS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


@dataclass(frozen=True)
class Child:
    """A child process as seen at one instant."""

    pid: int
    started: str  # start time in clock ticks since boot ("" where unknown)
    zombie: bool
    command: str

    def describe(self) -> str:
        state = "zombie: exited but never waited for" if self.zombie else "running"
        return f"process {self.pid} ({state}): {self.command}"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:  # the process went away while we looked
        return None


def _candidate_pids() -> list[str]:
    """Our children's pids from ``/proc/self/task/*/children`` if the kernel has it, else all pids.

    The children files cost microseconds; scanning every process costs
    milliseconds per hundred processes, and stays as the fallback.
    """
    pids: list[str] = []
    for task in os.listdir(f"{_PROC}/self/task"):
        listed = _read(f"{_PROC}/self/task/{task}/children")
        if listed is None:
            return [name for name in os.listdir(_PROC) if name.isdigit()]
        pids.extend(listed.decode().split())
    return pids


def _proc_children(parent: int) -> list[Child]:
    children = []
    for name in _candidate_pids():
        stat = _read(f"{_PROC}/{name}/stat")
        if stat is None:
            continue
        # "pid (comm) state ppid ... starttime ...": comm may contain spaces and parentheses
        comm_end = stat.rfind(b")")
        fields = stat[comm_end + 2 :].split()
        if len(fields) < 20 or int(fields[1]) != parent:
            continue
        cmdline = (_read(f"{_PROC}/{name}/cmdline") or b"").replace(b"\0", b" ").strip()
        command = cmdline or b"[" + stat[stat.find(b"(") + 1 : comm_end] + b"]"
        children.append(
            Child(
                int(name), fields[19].decode(), fields[0] == b"Z", command.decode(errors="replace")
            )
        )
    return children


def _multiprocessing_children() -> list[Child]:
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None:  # never imported: it has no children
        return []
    return [
        Child(child.pid, "", False, f"multiprocessing {child.name!r}")
        for child in multiprocessing.active_children()
        if child.pid is not None
    ]


def children() -> list[Child]:
    """This process's children, minus multiprocessing's process-wide helpers."""
    found = _proc_children(os.getpid()) if os.path.isdir(_PROC) else _multiprocessing_children()
    return [child for child in found if not any(h in child.command for h in _HELPER_COMMANDS)]


class ProcessDetector:
    """Children started during the check and still there (running or zombie) after the grace."""

    kind: ClassVar[str] = "processes"

    def __init__(self) -> None:
        self._baseline: set[tuple[int, str]] = set()

    def start(self, patcher: Patcher) -> None:
        self._baseline = {(child.pid, child.started) for child in children()}

    def _new_children(self) -> list[Child]:
        return [child for child in children() if (child.pid, child.started) not in self._baseline]

    def finish(self, deadline: float) -> Findings:
        leaked = self._new_children()
        while leaked and _realtime.monotonic() < deadline:
            _realtime.sleep(min(_POLL_SECONDS, max(0.0, deadline - _realtime.monotonic())))
            leaked = self._new_children()
        notes: tuple[str, ...] = ()
        if not os.path.isdir(_PROC):
            notes = ("processes: without /proc only multiprocessing children are visible",)
        found = tuple(Leak(self.kind, child.describe()) for child in leaked)
        return Findings(found, notes)
