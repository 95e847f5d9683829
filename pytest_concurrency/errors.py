"""Every public exception and warning of pytest-concurrency, under one base class each.

``except pytest_concurrency.errors.ConcurrencyError`` catches anything the
library raises on its own account -- a failed exploration, a replay token that
does not fit, a contract subject that cannot be built -- and
``filterwarnings = error::pytest_concurrency.errors.ConcurrencyWarning`` turns
every warning it gives into an error. Each class still derives from the
builtin its callers expect (``InterleavingFailure`` is an ``AssertionError``,
so pytest reports it as a failed assertion; ``ReplayTokenError`` a
``ValueError``), and prints under ``pytest_concurrency.<name>``.

The classes are defined next to the code that raises them and are imported
from here lazily, so importing this module costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "ConcurrencyError",
    "ConcurrencyWarning",
    "ContractError",
    "DataRace",
    "DataRaceWarning",
    "Deadlock",
    "ExplorationBudgetError",
    "FakeClockWarning",
    "InterleavingFailure",
    "InterleavingsFixtureWarning",
    "NondeterministicScenarioError",
    "NotExhaustedWarning",
    "ReplayTokenError",
    "SubjectError",
    "UncontrolledBlock",
]


class ConcurrencyError(Exception):
    """Base of every exception pytest-concurrency raises on its own account."""


class ConcurrencyWarning(UserWarning):
    """Base of every warning pytest-concurrency gives."""


ConcurrencyError.__module__ = ConcurrencyWarning.__module__ = "pytest_concurrency.errors"

#: public name -> the module that defines it
_DEFINED_IN = {
    "InterleavingFailure": "pytest_concurrency.world.report",
    "Deadlock": "pytest_concurrency.world.report",
    "DataRace": "pytest_concurrency.world.report",
    "DataRaceWarning": "pytest_concurrency.world.report",
    "UncontrolledBlock": "pytest_concurrency.world.report",
    "NondeterministicScenarioError": "pytest_concurrency.world.report",
    "NotExhaustedWarning": "pytest_concurrency.world.report",
    "ReplayTokenError": "pytest_concurrency.world.token",
    "FakeClockWarning": "pytest_concurrency._clock.captured",
    "InterleavingsFixtureWarning": "pytest_concurrency._wiring.interleavings",
    "SubjectError": "pytest_concurrency.contracts._base",
    "ExplorationBudgetError": "pytest_concurrency.contracts._base",
    "ContractError": "pytest_concurrency.contracts._support",
}

if TYPE_CHECKING:
    from pytest_concurrency._clock.captured import FakeClockWarning
    from pytest_concurrency._wiring.interleavings import InterleavingsFixtureWarning
    from pytest_concurrency.contracts._base import ExplorationBudgetError, SubjectError
    from pytest_concurrency.contracts._support import ContractError
    from pytest_concurrency.world.report import (
        DataRace,
        DataRaceWarning,
        Deadlock,
        InterleavingFailure,
        NondeterministicScenarioError,
        NotExhaustedWarning,
        UncontrolledBlock,
    )
    from pytest_concurrency.world.token import ReplayTokenError


def __getattr__(name: str) -> Any:
    module = _DEFINED_IN.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_concurrency.errors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
