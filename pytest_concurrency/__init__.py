"""pytest-concurrency: prove concurrent Python correct.

This module holds the public names and nothing else. They are resolved lazily
(PEP 562) so that ``import pytest_concurrency`` -- which pytest does for every
run where the plugin is installed -- costs next to nothing: the fake clock, the
leak detectors and the controlled world are imported only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# ``pytest -p pytest_concurrency`` imports this package as a plugin; when the
# package is not installed (no ``pytest11`` entry point), this line pulls in the
# real plugin module. With the entry point present pytest finds the plugin
# already registered under this name and never imports the package as one.
pytest_plugins = ["pytest_concurrency.plugin"]

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "GatedFake": "pytest_concurrency.fakes",
    "GatedEncoder": "pytest_concurrency.fakes",
    "FakeClock": "pytest_concurrency.fake_clock",
    "LeakReport": "pytest_concurrency.leaks",
}

__all__ = [
    "FakeClock",
    "GatedEncoder",
    "GatedFake",
    "LeakReport",
    "__version__",
]

if TYPE_CHECKING:
    from pytest_concurrency.fake_clock import FakeClock
    from pytest_concurrency.fakes import GatedEncoder, GatedFake
    from pytest_concurrency.leaks import LeakReport


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'pytest_concurrency' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
