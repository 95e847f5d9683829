"""Shared test configuration: the pytest runs that ``pytester`` starts see only what a test names.

An inner run would otherwise load every plugin installed next to the suite
(pytest-randomly reorders its tests and reseeds ``random``, Hypothesis's
plugin costs over a second per start), so a test's expected outcome would
depend on the machine. Every inner run therefore starts with plugin
autoloading disabled and ``-p pytest_concurrency``, plus the plugins the test
asks for with ``@pytest.mark.inner_plugins("xdist", "timeout")``. Tests of how
pytest itself finds the plugin (its entry point) use
``@pytest.mark.inner_plugins(autoload=True)`` and get the environment a user's
run has.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest

_MARKER = "inner_plugins"


def _import_every_module() -> None:
    """Import all of ``pytest_concurrency`` and ``reference_impl`` before any test runs.

    An in-process ``pytester.runpytest`` removes from ``sys.modules``, when it
    ends, every module first imported during it, while the modules imported
    before it keep references to the removed ones: a later import makes a
    second copy, and code that looks itself up in ``sys.modules`` fails. Which
    test imports a module first depends on the test order (pytest-randomly,
    xdist), so nothing of ours is left to be imported first by an inner run.
    """
    import pytest_concurrency
    import reference_impl

    for package in (pytest_concurrency, reference_impl):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith(".__main__"):
                importlib.import_module(module.name)


def pytest_configure(config: pytest.Config) -> None:
    _import_every_module()
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(*names, autoload=False): plugins (as for -p) that this test's pytester "
        "runs load besides pytest_concurrency; autoload=True: the runs load every installed "
        "plugin instead, as a user's run does",
    )


def _inner_plugins(request: pytest.FixtureRequest) -> tuple[tuple[str, ...], bool]:
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        return (), False
    options = dict(marker.kwargs)
    autoload = options.pop("autoload", False)
    if options or not all(isinstance(name, str) for name in marker.args):
        raise pytest.UsageError(
            f"@pytest.mark.{_MARKER} takes plugin names and autoload=True|False, "
            f"got {marker.args!r} {marker.kwargs!r}"
        )
    if autoload and marker.args:
        raise pytest.UsageError(f"@pytest.mark.{_MARKER}: autoload=True loads every plugin")
    return tuple(marker.args), bool(autoload)


@pytest.fixture
def pytester(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """``pytester`` whose runs, in-process or in a subprocess, load only the named plugins.

    Set after pytester's own setup, which clears ``PYTEST_ADDOPTS``; both
    variables are inherited by subprocess runs and their xdist workers.
    """
    names, autoload = _inner_plugins(request)
    if not autoload:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        plugins = ("pytest_concurrency", *names)
        monkeypatch.setenv("PYTEST_ADDOPTS", " ".join(f"-p {name}" for name in plugins))
    return pytester


_TIME_NAMES = ("monotonic", "monotonic_ns", "perf_counter", "time", "time_ns", "sleep")


@pytest.fixture(autouse=True)
def _time_is_real_again() -> Iterator[None]:
    """Every test leaves the time module as it found it (a patch left behind is a bug)."""
    import time

    before = {name: getattr(time, name) for name in _TIME_NAMES}
    yield
    left = [name for name in _TIME_NAMES if getattr(time, name) is not before[name]]
    if left:
        for name in left:
            setattr(time, name, before[name])  # so the tests after it are not disturbed
        pytest.fail(f"the test left time.{', time.'.join(left)} patched", pytrace=False)
