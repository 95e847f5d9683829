"""Hooks that pytest-concurrency declares for other plugins and CI integrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_concurrency.world.report import InterleavingFailure


@pytest.hookspec
def pytest_concurrency_interleaving_failure(
    item: pytest.Item, failure: InterleavingFailure
) -> None:
    """Called whenever an interleaving exploration fails inside a test.

    ``failure`` carries ``token`` (the replay token), ``command`` (the command
    line that replays it), ``trace`` (one line per step), ``strategy`` and
    ``schedules_run``, and for a deadlock ``wait_for`` (the wait-for graph); the
    scenario's own exception is ``failure.__cause__``. Use it to upload tokens,
    annotate CI runs, or file regressions. Return values are ignored.
    """
