"""Linearizability checking: generated scenarios, explored, checked against a sequential model.

:func:`check_linearizable` is the entry point; :class:`NotLinearizable` its
failure. The modules: ``operations`` (what the user declares), ``scenario``
(what Hypothesis draws), ``history`` (what a schedule recorded), ``state``
(memoisation keys), ``checker`` (the search), ``failure`` (the report).
This package is harness code: the explorer never traces it.
"""

from __future__ import annotations

from pytest_concurrency.linearizability.check import LinearizabilityResult, check_linearizable
from pytest_concurrency.linearizability.failure import NotLinearizable
from pytest_concurrency.linearizability.history import Entry, Outcome
from pytest_concurrency.linearizability.scenario import Call

__all__ = [
    "Call",
    "Entry",
    "LinearizabilityResult",
    "NotLinearizable",
    "Outcome",
    "check_linearizable",
]
