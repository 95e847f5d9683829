"""Shared test configuration."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _lean_inner_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep Hypothesis's plugin out of the pytest runs that ``pytester`` starts.

    Loading it costs about 1.3 s per inner run on this machine, and no inner run
    uses it; the suite runs dozens of them.
    """
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
