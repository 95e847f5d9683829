"""pytest wiring for gated fakes: the ``gated_fake`` and ``gated_encoder`` fixtures.

Thin on purpose: each fixture hands the test a factory that tracks what it
makes (:class:`pytest_concurrency.fakes.FakeTracker`), and at teardown opens
every gate and turns the tracker's report of callers left blocked into a
failure of the test itself, reported after its teardown (one failed test, see
:mod:`pytest_concurrency._post_teardown`). The library is imported inside the
fixtures so that loading the plugin stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import pytest

from pytest_concurrency import _post_teardown

if TYPE_CHECKING:
    from pytest_concurrency.fakes import GateControls, GatedEncoder, GatedFake

F = TypeVar("F", bound="GateControls")

_FIXTURES = frozenset({"gated_fake", "gated_encoder"})


def pytest_configure(config: pytest.Config) -> None:
    _post_teardown.want(config, _uses_a_fixture)


def _uses_a_fixture(item: pytest.Item) -> bool:
    return not _FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def _tracked_factory(
    request: pytest.FixtureRequest, kind: str, make: Callable[..., F]
) -> Iterator[Callable[..., F]]:
    from pytest_concurrency.fakes import FakeTracker

    tracker = FakeTracker(kind, root=request.config.rootpath)
    yield tracker.factory(make)
    failure = tracker.finish()  # opens the gates now: later finalizers may join the callers
    if failure is not None and not _post_teardown.register(
        request.node, "gated fakes", lambda: failure
    ):
        pytest.fail(failure, pytrace=False)


@pytest.fixture
def gated_fake(request: pytest.FixtureRequest) -> Iterator[Callable[..., GatedFake]]:
    """Factory of :class:`~pytest_concurrency.GatedFake` (same arguments), checked at teardown.

    ``gated_fake(return_value=..., side_effect=..., name=..., opened=False,
    block_timeout=30.0)``. At teardown every gate is opened, and the test fails
    if any caller was still blocked, naming the thread and the line it called from.
    """
    from pytest_concurrency.fakes import GatedFake

    yield from _tracked_factory(request, "gated_fake", GatedFake)


@pytest.fixture
def gated_encoder(request: pytest.FixtureRequest) -> Iterator[Callable[..., GatedEncoder]]:
    """Factory of :class:`~pytest_concurrency.GatedEncoder` (same arguments), checked at teardown.

    ``gated_encoder(dim=8, name=..., opened=False, block_timeout=30.0)``. At
    teardown every gate is opened, and the test fails if any caller was still
    blocked, naming the thread and the line it called from.
    """
    from pytest_concurrency.fakes import GatedEncoder

    yield from _tracked_factory(request, "gated_encoder", GatedEncoder)
