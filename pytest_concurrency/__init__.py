"""pytest-concurrency: prove concurrent Python correct.

This module holds the public names and nothing else. They are resolved lazily
(PEP 562) so that ``import pytest_concurrency`` -- which pytest does for every
run where the plugin is installed -- costs next to nothing: the fake clock, the
leak detectors and the controlled world are imported only when first used.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

# first of all: capture the real clock and threading methods before any feature wraps them
from pytest_concurrency import _realtime as _realtime

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "GatedFake": "pytest_concurrency.fakes",
    "GatedEncoder": "pytest_concurrency.fakes",
    "FakeClock": "pytest_concurrency.fake_clock",
    "FakeClockWarning": "pytest_concurrency.fake_clock",
    "PendingWait": "pytest_concurrency.fake_clock",
    "LeakReport": "pytest_concurrency.leaks",
    "LeakChecker": "pytest_concurrency.leaks",
    "explore": "pytest_concurrency.world.api",
    "replay": "pytest_concurrency.world.api",
    "spawn": "pytest_concurrency.world.api",
    "checkpoint": "pytest_concurrency.world.api",
    "ExploreResult": "pytest_concurrency.world.api",
    "SpawnHandle": "pytest_concurrency.world.threads",
    "InterleavingFailure": "pytest_concurrency.world.report",
    "Deadlock": "pytest_concurrency.world.report",
    "DataRace": "pytest_concurrency.world.report",
    "DataRaceWarning": "pytest_concurrency.world.report",
    "UncontrolledBlock": "pytest_concurrency.world.report",
    "NondeterministicScenarioError": "pytest_concurrency.world.report",
    "NotExhaustedWarning": "pytest_concurrency.world.report",
    "ReplayTokenError": "pytest_concurrency.world.token",
    "check_linearizable": "pytest_concurrency.linearizability",
    "NotLinearizable": "pytest_concurrency.linearizability",
    "LinearizabilityResult": "pytest_concurrency.linearizability",
}

__all__ = [
    "DataRace",
    "DataRaceWarning",
    "Deadlock",
    "ExploreResult",
    "FakeClock",
    "FakeClockWarning",
    "GatedEncoder",
    "GatedFake",
    "InterleavingFailure",
    "LeakChecker",
    "LeakReport",
    "LinearizabilityResult",
    "NondeterministicScenarioError",
    "NotExhaustedWarning",
    "NotLinearizable",
    "PendingWait",
    "ReplayTokenError",
    "SpawnHandle",
    "UncontrolledBlock",
    "__version__",
    "check_linearizable",
    "checkpoint",
    "explore",
    "replay",
    "spawn",
]


def _plugins_to_load() -> list[str]:
    """What pytest should load when it treats this package as a plugin.

    ``pytest -p pytest_concurrency`` without the entry point, or
    ``pytest_plugins = ["pytest_concurrency"]`` in a conftest with autoloading
    off, imports this package as a plugin; it has no hooks itself, so it names
    the real plugin module here. When that module is already loaded (the
    ``pytest11`` entry point registered it under the name
    ``pytest_concurrency``), naming it again would register it twice under two
    names, which pytest rejects -- so then there is nothing to load. Computed
    on access (not a constant) for exactly that reason. The same holds when an
    unrelated distribution's entry point imported this package first and ours
    is about to load the plugin module (see :mod:`pytest_concurrency._distribution`).
    """
    if "pytest_concurrency.plugin" in sys.modules:
        return []
    from pytest_concurrency import _distribution

    if _distribution.our_entry_point_will_load_the_plugin():
        return []
    return ["pytest_concurrency.plugin"]


if TYPE_CHECKING:
    from pytest_concurrency.fake_clock import FakeClock, FakeClockWarning, PendingWait
    from pytest_concurrency.fakes import GatedEncoder, GatedFake
    from pytest_concurrency.leaks import LeakChecker, LeakReport
    from pytest_concurrency.linearizability import (
        LinearizabilityResult,
        NotLinearizable,
        check_linearizable,
    )
    from pytest_concurrency.world.api import ExploreResult, checkpoint, explore, replay, spawn
    from pytest_concurrency.world.report import (
        DataRace,
        DataRaceWarning,
        Deadlock,
        InterleavingFailure,
        NondeterministicScenarioError,
        NotExhaustedWarning,
        UncontrolledBlock,
    )
    from pytest_concurrency.world.threads import SpawnHandle
    from pytest_concurrency.world.token import ReplayTokenError


def __getattr__(name: str) -> Any:
    if name == "pytest_plugins":
        return _plugins_to_load()
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'pytest_concurrency' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
