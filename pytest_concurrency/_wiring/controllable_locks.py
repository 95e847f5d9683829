"""pytest wiring for the session-wide dual-mode primitives (``--interleavings-controllable-locks``).

Thin on purpose: it reads the flag and its ini mirror, and installs
:mod:`pytest_concurrency.world.dual` for the session -- as early as pytest lets
a plugin act (before the initial conftest files are imported, when the plugin
is loaded from its entry point or with ``-p``; else at configure time, still
before any test module is collected) -- and uninstalls it at unconfigure, which
puts the real ``threading`` classes back exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

_INI = "interleavings_controllable_locks"
_INSTALLED = pytest.StashKey[bool]()


def enabled(config: pytest.Config) -> bool:
    """The flag, else its ini value; UsageError for an ini value that is not a boolean."""
    if config.getoption("interleavings_controllable_locks", default=False):
        return True
    # before pytest_configure only the early parse of the command line has it
    early = getattr(config, "known_args_namespace", None)
    if getattr(early, "interleavings_controllable_locks", False):
        return True
    try:
        return bool(config.getini(_INI))
    except (ValueError, pytest.UsageError):  # pytest >= 9 raises the UsageError itself
        raise pytest.UsageError(
            f"ini option {_INI} must be a boolean (true/false, yes/no, 1/0), "
            f"got {config.inicfg.get(_INI)!r}"
        ) from None


def install_for(config: pytest.Config) -> None:
    """Install the dual-mode primitives once for this session, if asked for."""
    if config.stash.get(_INSTALLED, False) or not enabled(config):
        return
    from pytest_concurrency.world import dual

    dual.install()
    config.stash[_INSTALLED] = True


@contextlib.contextmanager
def undone_on_error(config: pytest.Config) -> Iterator[None]:
    """Install around the loading of the conftest files; undo it if that fails.

    pytest does not unconfigure a session whose conftest files failed to import,
    so the real classes are put back here.
    """
    install_for(config)
    try:
        yield
    except BaseException:
        pytest_unconfigure(config)
        raise


def pytest_configure(config: pytest.Config) -> None:
    install_for(config)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_INSTALLED, False):
        from pytest_concurrency.world import dual

        config.stash[_INSTALLED] = False
        dual.uninstall()
