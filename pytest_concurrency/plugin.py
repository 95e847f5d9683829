"""The pytest plugin: options, ini mirrors, markers and hook declarations.

Wiring only. Each feature's fixtures and hook implementations live in a small
module under :mod:`pytest_concurrency._wiring`, registered here at configure
time; the logic they call lives in the library (``fakes``, ``fake_clock``,
``leaks``, ``world``). Nothing heavy is imported at import time: pytest imports
this module for every run where the package is installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Generator

import pytest

from pytest_concurrency import _distribution

#: the startup warning about a conflicting distribution, repeated in the header
_CONFLICT_KEY = pytest.StashKey[str]()
#: wiring modules registered as plugins of their own, so that each feature's
#: fixtures and hooks stay next to each other and out of this file
_WIRING_MODULES = (
    "pytest_concurrency._wiring.fakes",
    "pytest_concurrency._wiring.clock",
    "pytest_concurrency._wiring.leaks",
    "pytest_concurrency._wiring.interleavings",
    "pytest_concurrency._wiring.reports",
    "pytest_concurrency._wiring.outcomes",
    "pytest_concurrency._wiring.controllable_locks",
)

_MARKERS = (
    "no_leaks(*kinds, grace=0.5): fail the test if it leaks resources of the given kinds "
    "(threads, fds, processes, tasks, tempfiles); no kinds means all of them.",
    "fake_clock(**options): options for the fake_clock fixture (FakeClock's keywords: "
    "start, datetime, real_modules, resume_timeout).",
    "interleavings(**options): run the test body as an interleaving scenario, once per "
    "explored schedule (options as pytest_concurrency.explore: strategy, runs, seed, ...).",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("concurrency", "pytest-concurrency")
    group.addoption(
        "--leaks",
        dest="concurrency_leaks",
        default=None,
        metavar="KINDS",
        help="check every test for leaked resources: a comma-separated list of "
        "threads, fds, processes, tasks, tempfiles (or 'all').",
    )
    parser.addini(
        "concurrency_leaks",
        "leak kinds to check in every test (as --leaks)",
        default="",
    )
    group.addoption(
        "--interleavings-runs",
        dest="interleavings_runs",
        type=int,
        default=None,
        metavar="N",
        help="schedules to explore per interleavings test (default: the ini value, else "
        "until dpor covers every interleaving, 10000 at most; 1000 for pct, random, dfs).",
    )
    group.addoption(
        "--interleavings-seed",
        dest="interleavings_seed",
        type=int,
        default=None,
        metavar="SEED",
        help="seed for the strategies that read one, random and pct (default: the ini value, "
        "else random); explorations with dpor or dfs, which read none, ignore it.",
    )
    group.addoption(
        "--interleavings-replay",
        dest="interleavings_replay",
        default=None,
        metavar="TOKEN",
        help="replay exactly one schedule, from the token a failure printed.",
    )
    group.addoption(
        "--interleavings-shards",
        dest="interleavings_shards",
        type=int,
        default=None,
        metavar="N",
        help="split every exploring test into N collected items, each exploring one part of "
        "its schedules (for pytest-xdist to run side by side; default: the ini value, else 1).",
    )
    group.addoption(
        "--interleavings-report",
        dest="interleavings_report",
        default=None,
        metavar="DIR",
        help="write one self-contained HTML page per failing exploration into DIR.",
    )
    parser.addini(
        "interleavings_report", "directory for the failure pages (as --interleavings-report)"
    )
    group.addoption(
        "--interleavings-controllable-locks",
        dest="interleavings_controllable_locks",
        action="store_true",
        default=False,
        help="make every lock, condition, semaphore, event and barrier the code under test "
        "creates (at import too) controllable by interleavings runs: real outside runs.",
    )
    parser.addini(
        "interleavings_controllable_locks",
        "as --interleavings-controllable-locks",
        type="bool",
        default=False,
    )
    parser.addini("interleavings_runs", "schedules to explore per test (as --interleavings-runs)")
    parser.addini("interleavings_seed", "seed for the strategies (as --interleavings-seed)")
    parser.addini(
        "interleavings_shards", "parts each exploring test is split in (as --interleavings-shards)"
    )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_concurrency import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None, None, None]:
    """The dual-mode primitives go in before the conftest files import the code under test."""
    from pytest_concurrency._wiring import controllable_locks

    with controllable_locks.undone_on_error(early_config):
        return (yield)


def pytest_configure(config: pytest.Config) -> None:
    conflict = _distribution.conflict_message()
    if conflict is not None:
        config.stash[_CONFLICT_KEY] = conflict
        config.issue_config_time_warning(pytest.PytestConfigWarning(conflict), stacklevel=2)
    for line in _MARKERS:
        config.addinivalue_line("markers", line)
    for module_name in _WIRING_MODULES:
        if not config.pluginmanager.has_plugin(module_name):
            config.pluginmanager.register(importlib.import_module(module_name), module_name)


def pytest_report_header(config: pytest.Config) -> str | None:
    conflict = config.stash.get(_CONFLICT_KEY, None)
    return None if conflict is None else f"pytest-concurrency-kit WARNING: {conflict}"
