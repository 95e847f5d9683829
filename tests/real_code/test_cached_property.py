"""cached-property (pinned in the test-libs extra): a lazy attribute read by two threads.

``cached_property`` computes the value on first access and stores it in the
instance's ``__dict__``; the package's ``threaded_cached_property`` does the
same under a lock, for objects that threads share.
"""

from __future__ import annotations

import pytest
from real_checks import found, proven, run_threads

from pytest_concurrency.errors import DataRaceWarning
from pytest_concurrency.world.api import explore

cached_property = pytest.importorskip("cached_property", reason="pip install -e .[test-libs]")

#: this file too: the second read of a computed attribute runs no library code at all
TRACE = ["cached_property", __file__]


def _first_reads(decorator: object) -> None:
    computed: list[int] = []

    class Connection:
        @decorator  # type: ignore[misc]
        def settings(self) -> dict[str, bool]:
            computed.append(1)  # an expensive query, say
            return {"debug": True}

    shared = Connection()
    run_threads(lambda: shared.settings, lambda: shared.settings)
    assert len(computed) == 1, f"the lazy attribute was computed {len(computed)} times"


def test_cached_property_is_computed_twice_by_two_first_readers() -> None:
    """Two threads read a ``@cached_property`` that no one has read yet: both find no
    stored value and both compute it (the expensive query runs twice, and each thread
    may keep a different object)."""
    failure = found(lambda: _first_reads(cached_property.cached_property), TRACE)
    assert "computed 2 times" in str(failure)


def test_threaded_cached_property_is_computed_once() -> None:
    """``threaded_cached_property`` re-checks the stored value under its lock.

    Its fast path -- a later read finds the value in the instance's ``__dict__``
    with no lock -- races by design with the locked ``setdefault`` that stores
    it: a data race on the attribute, whose outcome is the same either way. What
    is proven is the outcome (computed once in every class of interleavings)."""
    proven(lambda: _first_reads(cached_property.threaded_cached_property), TRACE, races="ignore")


def test_threaded_cached_property_reads_its_value_without_the_lock() -> None:
    """The unlocked read of the stored attribute and the locked store are one location:
    the data race is reported (it is not hidden by the store going through the dict)."""
    with pytest.warns(DataRaceWarning, match="dict\\['settings'\\]"):
        explore(
            lambda: _first_reads(cached_property.threaded_cached_property),
            trace=list(TRACE),
        )
