"""Registries that must not grow: a lock map, a cache, a listener list.

Some leaks are not resources the operating system can count but entries in a
map that nobody removes -- a config store's per-key lock map grew by one lock
per corpus id, forever. :meth:`RegistryWatcher.watch` takes the size of such a
registry now; :meth:`RegistryWatcher.check` compares it later, and any growth
beyond ``max_growth`` is a leak that names the registry, its sizes and the
growth.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from dataclasses import dataclass

from pytest_concurrency.leaks.core import Leak, LeakReport

KIND = "registries"


def _probe_for(obj: object) -> Callable[[], int]:
    """A zero-argument function returning the size of ``obj`` (a Sized, or a size callable)."""
    if isinstance(obj, Sized):
        return obj.__len__
    if callable(obj):
        return obj
    raise TypeError(
        "obj must be a sized container (len(obj) works) or a zero-argument callable "
        f"returning its size, got {type(obj).__name__}"
    )


def _size(probe: Callable[[], int], name: str) -> int:
    size = probe()
    if not isinstance(size, int) or isinstance(size, bool):
        raise TypeError(f"the size of registry {name!r} must be an int, got {type(size).__name__}")
    return size


def _default_name(obj: object) -> str:
    if not isinstance(obj, Sized):
        qualname = getattr(obj, "__qualname__", None)
        if isinstance(qualname, str):
            return qualname
    return f"{type(obj).__name__} at {id(obj):#x}"


@dataclass
class Watch:
    """One watched registry: its size when watched, and how much it may grow."""

    name: str
    before: int
    max_growth: int
    probe: Callable[[], int]

    def size(self) -> int:
        """The registry's size now."""
        return _size(self.probe, self.name)

    def leak(self) -> Leak | None:
        """A leak if the registry grew by more than ``max_growth`` since it was watched."""
        after = self.size()
        growth = after - self.before
        if growth <= self.max_growth:
            return None
        return Leak(
            KIND,
            f"registry {self.name!r} grew by {growth} (before {self.before}, after {after}; "
            f"max_growth {self.max_growth})",
        )


class RegistryWatcher:
    """Registries watched during a test; what the ``leaks`` fixture gives.

    Watch every registry the code under test may fill; at the end, each one
    must be at most ``max_growth`` entries larger than when it was watched.
    """

    def __init__(self) -> None:
        self._watches: list[Watch] = []

    @property
    def watches(self) -> tuple[Watch, ...]:
        return tuple(self._watches)

    def watch(self, obj: object, name: str | None = None, max_growth: int = 0) -> Watch:
        """Remember the size of ``obj``; :meth:`check` fails if it grew by more than ``max_growth``.

        ``obj`` is a sized container (``len(obj)``) or a zero-argument callable
        returning its size (``lambda: len(store._locks)``); ``name`` labels it
        in the report (default: the callable's name, or the container's type).
        """
        probe = _probe_for(obj)
        if not isinstance(max_growth, int) or isinstance(max_growth, bool):
            raise TypeError(f"max_growth must be an int, got {type(max_growth).__name__}")
        if max_growth < 0:
            raise ValueError(f"max_growth must be >= 0, got {max_growth}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__}")
        label = name if name is not None else _default_name(obj)
        watch = Watch(label, _size(probe, label), max_growth, probe)
        self._watches.append(watch)
        return watch

    def check(self) -> tuple[Leak, ...]:
        """The registries that grew by more than they were allowed."""
        return tuple(leak for watch in self._watches if (leak := watch.leak()) is not None)

    def report(self) -> LeakReport:
        """:meth:`check`'s result as a report."""
        return LeakReport(self.check(), (KIND,) if self._watches else ())
