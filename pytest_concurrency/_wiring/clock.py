"""pytest wiring for the fake clock: the ``fake_clock`` fixture.

Thin on purpose: install a :class:`~pytest_concurrency.FakeClock` for the test
(the test's thread becomes its driver), uninstall it at teardown whatever
happened. The library is imported inside the fixture so that loading the
plugin stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_concurrency.fake_clock import FakeClock


@pytest.fixture
def fake_clock(request: pytest.FixtureRequest) -> Iterator[FakeClock]:
    """A :class:`~pytest_concurrency.FakeClock`, installed for this test.

    The test's thread and the threads and event loops it starts see virtual
    time; ``time.sleep(t)`` in the test advances it, a timed wait in the test
    autojumps while every other in-scope thread is parked. pytest, its plugins
    and threads started before the test keep real time. Uninstalled (every
    patched global restored, parked threads woken) at teardown.

    Options go in a marker: ``@pytest.mark.fake_clock(start=..., datetime=False,
    real_modules=(...))`` takes :class:`~pytest_concurrency.FakeClock`'s keywords.
    """
    from pytest_concurrency.fake_clock import FakeClock

    marker = request.node.get_closest_marker("fake_clock")
    options = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        pytest.fail(
            "@pytest.mark.fake_clock takes keywords only (start=, datetime=, ...)", pytrace=False
        )
    try:
        clock = FakeClock(**options)
    except (TypeError, ValueError) as error:
        pytest.fail(f"@pytest.mark.fake_clock: {error}", pytrace=False)
    clock.install()
    try:
        yield clock
    finally:
        clock.uninstall()
