"""The one list of the test harness's packages, and the roles some of them play.

Several parts of the plugin must tell the harness (pytest, its plugins, the
tools that measure a run, this package) from the code under test: the fake
clock keeps real time for calls made from harness modules, the leak checker
never reports a thread a harness package started, creation stacks end where
the test runner's frames begin. Each asks a narrower question, so the roles are
named subsets of one list rather than lists of their own.
"""

from __future__ import annotations

#: top-level packages of the test harness: pytest, its plugins, tools that measure the run
HARNESS_PACKAGES: frozenset[str] = frozenset(
    {
        "_pytest",
        "pytest",
        "pluggy",
        "pytest_timeout",
        "xdist",
        "execnet",
        "pytest_concurrency",
        "coverage",
        "freezegun",
        "hypothesis",
        "_hypothesis_pytestplugin",
        "pytest_cov",
    }
)

#: the test runner itself: a creation stack ends where its frames begin
RUNNER_PACKAGES: tuple[str, ...] = ("_pytest", "pluggy")

#: harness packages that start threads of their own (timers, channels): never a leak.
#: Not this package: threads it starts are named ``pytest-concurrency...`` instead, and
#: those it starts *for* the code under test (``spawn``) may well leak.
THREAD_STARTERS: tuple[str, ...] = ("pytest_timeout", "xdist", "execnet")
