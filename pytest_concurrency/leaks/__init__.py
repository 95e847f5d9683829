"""Leak detectors: fail a test that leaves threads, fds, processes, tasks or temp files behind.

A :class:`LeakChecker` takes a baseline of the chosen kinds when it starts
and, when it finishes, reports what exists now that did not then -- after a
short grace period for threads and processes that are finishing -- as a
:class:`LeakReport`. Registries that must not grow (a per-key lock map) are
watched with :meth:`LeakChecker.watch` or the ``leaks`` fixture.

Kinds (:data:`KINDS`): ``threads``, ``fds``, ``processes``, ``tasks``,
``tempfiles``; ``"all"`` means every one. Harness threads are never reported:
threads alive at the start, pytest-timeout's, pytest-xdist's and execnet's, and
every thread whose name starts with ``pytest-concurrency`` -- the naming
convention for threads this plugin starts for itself.

In pytest: ``@pytest.mark.no_leaks("threads")``, ``--leaks=threads,fds`` (or
the ``concurrency_leaks`` ini value) for every test, and the ``leaks`` fixture.
"""

from __future__ import annotations

from pytest_concurrency.leaks.checker import DEFAULT_GRACE, LeakChecker
from pytest_concurrency.leaks.core import Findings, Leak, LeakReport
from pytest_concurrency.leaks.kinds import ALL, KINDS, parse_kinds
from pytest_concurrency.leaks.registries import RegistryWatcher, Watch
from pytest_concurrency.leaks.stacks import Frame
from pytest_concurrency.leaks.threads import HARNESS_THREAD_PREFIX

__all__ = [
    "ALL",
    "DEFAULT_GRACE",
    "HARNESS_THREAD_PREFIX",
    "KINDS",
    "Findings",
    "Frame",
    "Leak",
    "LeakChecker",
    "LeakReport",
    "RegistryWatcher",
    "Watch",
    "parse_kinds",
]
