"""Public classes carry the module users import them from.

Tracebacks, pytest's short test summary and ``repr`` name an exception class
by its ``__module__``: ``pytest_concurrency.world.report.InterleavingFailure``
is an internal path to a user, and at 80 columns it leaves no room for the
message. Each public exception and warning is marked with :func:`public` where
it is defined, so it prints as ``pytest_concurrency.InterleavingFailure``.
Pickling (pytest-xdist sends reports between processes) finds the class under
that name too: the package resolves its public names on attribute access.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T", bound=type)

#: the package every public name is imported from
PACKAGE = "pytest_concurrency"


def public(cls: T) -> T:
    """Class decorator: present the class as ``pytest_concurrency.ClassName``."""
    cls.__module__ = PACKAGE
    return cls
