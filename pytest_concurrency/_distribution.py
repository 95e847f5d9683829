"""Noticing the unrelated distribution that shares our import package's name.

This project is distributed as ``pytest-concurrency-kit``. A different project
holds the distribution name ``pytest-concurrency`` on PyPI and ships an import
package of the same name, ``pytest_concurrency``, with a ``pytest11`` entry
point. Installed next to ours, one overwrites the other's files and pytest may
load the wrong code, or load ours twice. Nothing fails loudly, so the plugin
says so at startup.

The check runs in every pytest run, so it is one metadata lookup by name
(pytest has already scanned the installed distributions for entry points, so
the lookup is served from importlib's warm path cache).
"""

from __future__ import annotations

import importlib.metadata
import os

#: this project's distribution name (what ``pip install`` takes)
DISTRIBUTION = "pytest-concurrency-kit"

#: the unrelated project's distribution name
CONFLICTING_DISTRIBUTION = "pytest-concurrency"

#: the value of our own ``pytest11`` entry point: a distribution named
#: ``pytest-concurrency`` that declares it is this project installed under an
#: earlier name, not the unrelated one
_OUR_ENTRY_POINT = "pytest_concurrency.plugin"


def conflict_message() -> str | None:
    """A sentence for the user if the unrelated distribution is installed, else None."""
    try:
        other = importlib.metadata.distribution(CONFLICTING_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    # only reached when the name is installed at all: reading its entry points is rare
    values = {ep.value for ep in other.entry_points if ep.group == "pytest11"}
    if _OUR_ENTRY_POINT in values:
        return None
    where = f" in {other.locate_file('')}"
    return (
        f"the distribution {CONFLICTING_DISTRIBUTION!r} {other.version}{where} is installed: "
        f"it is an unrelated project that also ships the import package 'pytest_concurrency' "
        f"and a pytest11 entry point, so its files and those of {DISTRIBUTION!r} overwrite "
        f"each other and pytest may run the wrong plugin. Fix: "
        f"python -m pip uninstall -y {CONFLICTING_DISTRIBUTION} {DISTRIBUTION} && "
        f"python -m pip install {DISTRIBUTION}"
    )


def _pytest11_values(name: str) -> set[str]:
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return set()
    return {ep.value for ep in distribution.entry_points if ep.group == "pytest11"}


def our_entry_point_will_load_the_plugin() -> bool:
    """Whether this package, imported as a plugin, should leave loading to our entry point.

    The other project's entry point imports the package ``pytest_concurrency``
    as a plugin. If the package then named :mod:`pytest_concurrency.plugin`,
    pytest would register that module under its module name and fail with
    "Plugin already registered under a different name" when our own entry
    point registers it again -- before the plugin could say what is wrong. So
    when both entry points are installed and autoloading is on, the package
    names nothing and our entry point does the loading. Called only when the
    package itself is loaded as a plugin (``pytest_plugins``), never per test.
    """
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    if "pytest_concurrency" not in _pytest11_values(CONFLICTING_DISTRIBUTION):
        return False
    return _OUR_ENTRY_POINT in _pytest11_values(DISTRIBUTION)
