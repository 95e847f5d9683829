"""The bug zoo: small real concurrency bugs, each with its fixed twin.

Each module holds plain threading code that knows nothing of the harness (a
buggy guard, its fixed twin) and two zero-argument scenarios, ``buggy`` and
``fixed``, that drive them with a few threads and assert what must hold. The
demo shows the explorer finding every bug and proving every twin; tests/zoo
checks the same with stated budgets.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class ZooBug:
    """One exhibit: where it comes from and how to explore it."""

    name: str
    module: str
    origin: str
    #: modules whose pre-existing locks must be swapped in (``patch=``)
    patch: tuple[str, ...] = ()

    def load(self) -> ModuleType:
        return importlib.import_module(f"pytest_concurrency.demo.zoo.{self.module}")

    def patch_targets(self) -> list[ModuleType]:
        return [importlib.import_module(name) for name in self.patch]


ZOO = (
    ZooBug("single-flight without re-check", "single_flight", "a vocabulary cache"),
    ZooBug("worker pool select-then-release", "worker_pool", "a keyed worker pool"),
    ZooBug("ABBA deadlock", "abba", "classic"),
    ZooBug("lost wakeup", "lost_wakeup", "classic"),
    ZooBug("turnstile early return", "turnstile", "an ordered turnstile"),
    ZooBug(
        "run slot checked outside its lock",
        "run_slot",
        "a run guard",
        patch=("pytest_concurrency.demo.zoo.run_slot",),
    ),
    ZooBug("janitor deaf to earlier items", "janitor", "a deferred-deletion janitor"),
)
