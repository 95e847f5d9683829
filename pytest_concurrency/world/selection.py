"""Which code is traced at line granularity: ``explore(..., trace=[...])`` resolved to files.

Line-level preemption only pays off in the code whose races are being looked
for, and costs everywhere it is switched on, so the selection is narrow by
default: the scenario's own file plus the project's non-test code under the
current directory -- never the standard library, site-packages, or the harness
itself (a scheduling point inside the scheduler would recurse into it).

Only function code objects are traced: a module body runs under the import
lock and a class body at import time, and a switch there could block another
thread on a lock the scheduler cannot see.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import site
import sys
import sysconfig
import zlib
from collections.abc import Callable, Iterable
from types import CodeType, ModuleType
from typing import Any

#: a function's code object (not a module or class body): ``CO_OPTIMIZED``
_CO_OPTIMIZED = inspect.CO_OPTIMIZED

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: parts of this package that hold user-level code (demonstration bugs, contract suites,
#: the benchmarks' workloads): traceable when named, though never by default
_USER_LEVEL_DIRS = tuple(
    os.path.join(_PACKAGE_DIR, name) + os.sep for name in ("demo", "contracts", "bench")
)
_TEST_DIR_NAMES = frozenset({"tests", "test", "testing"})


def _normalise(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _is_harness(path: str) -> bool:
    """The harness is this package, except its user-level code (demo, contracts, bench)."""
    inside = path + os.sep  # so that a directory compares like the files in it
    if not inside.startswith(_PACKAGE_DIR + os.sep) or inside == _PACKAGE_DIR + os.sep:
        return False
    return not inside.startswith(_USER_LEVEL_DIRS)


def _installed_dirs() -> tuple[str, ...]:
    """The standard library and every site-packages directory (never traced by default)."""
    paths = sysconfig.get_paths()
    found = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    found.update(getattr(site, "getsitepackages", list)())
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    if isinstance(user_site, str):
        found.add(user_site)
    return tuple(_normalise(path) + os.sep for path in found if path)


def _is_test_file(path: str, root: str) -> bool:
    name = os.path.basename(path)
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    relative = os.path.relpath(os.path.dirname(path), root)
    return any(part in _TEST_DIR_NAMES for part in relative.split(os.sep))


def scenario_file(scenario: Callable[..., object]) -> str | None:
    """The source file of the scenario's own code (through partials and bound methods)."""
    target: Any = scenario
    while True:
        inner = getattr(target, "func", None) or getattr(target, "__func__", None)
        if inner is None:
            break
        target = inner
    code = getattr(target, "__code__", None)
    if isinstance(code, CodeType):
        return _normalise(code.co_filename)
    module = sys.modules.get(getattr(target, "__module__", "") or type(target).__module__)
    filename = getattr(module, "__file__", None)
    return _normalise(filename) if isinstance(filename, str) else None


def _entry_text(entry: object) -> str:
    if isinstance(entry, ModuleType):
        return entry.__name__
    return os.fspath(entry) if isinstance(entry, os.PathLike) else str(entry)


def _module_locations(name: str) -> tuple[list[str], list[str]] | None:
    """(files, directories) of an importable module or package, None if there is none."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations is not None:
        return [], list(spec.submodule_search_locations)
    origin = spec.origin
    if origin is None or not origin.endswith(".py"):
        raise ValueError(
            f"trace: module {name!r} is not Python source ({origin or 'built in'}) and "
            "cannot be traced line by line"
        )
    return [origin], []


def _resolve(entry: object) -> tuple[list[str], list[str]]:
    """One ``trace=`` entry as (files, directories)."""
    if isinstance(entry, ModuleType):
        locations = getattr(entry, "__path__", None)
        if locations is not None:
            return [], list(locations)
        filename = getattr(entry, "__file__", None)
        if not isinstance(filename, str) or not filename.endswith(".py"):
            raise ValueError(f"trace: module {entry.__name__!r} has no Python source file to trace")
        return [filename], []
    if not isinstance(entry, (str, os.PathLike)):
        raise TypeError(
            "trace entries must be modules, module or package names, or file or directory "
            f"paths; got {type(entry).__name__}"
        )
    text = os.fspath(entry)
    if not isinstance(text, str) or not text:
        raise ValueError(f"trace: {entry!r} is not a module name or a path")
    looks_like_path = isinstance(entry, os.PathLike) or text.endswith(".py") or "/" in text
    if not looks_like_path and not text.startswith("."):
        found = _module_locations(text)
        if found is not None:
            return found
    if os.path.isdir(text):
        return [], [text]
    if os.path.isfile(text):
        return [text], []
    raise ValueError(
        f"trace: no module, package, file or directory named {text!r} "
        "(give a module object, an importable dotted name, or an existing path)"
    )


def _as_entries(trace: object) -> list[object]:
    if isinstance(trace, (str, os.PathLike, ModuleType)):
        return [trace]
    if isinstance(trace, Iterable):
        return list(trace)
    raise TypeError(
        "trace must be a module, a module or package name, a path, or a list of them; "
        f"got {type(trace).__name__}"
    )


class TraceSelection:
    """The files whose functions get line-level scheduling points, decided once per file."""

    __slots__ = ("_cache", "_dirs", "_excluded", "_files", "_root", "description", "tag")

    def __init__(
        self,
        *,
        files: Iterable[str],
        dirs: Iterable[str],
        root: str | None,
        description: str,
    ) -> None:
        self._files = frozenset(_normalise(path) for path in files)
        self._dirs = tuple(_normalise(path).rstrip(os.sep) + os.sep for path in dirs)
        #: with a root: the default selection, which skips installed and test code under it
        self._root = None if root is None else _normalise(root)
        self._excluded = _installed_dirs() if root is not None else ()
        self._cache: dict[str, bool] = {}
        #: what the user asked for, as text: stable across machines, so tokens can carry it
        self.description = description
        self.tag = zlib.crc32(description.encode()) & 0xFFFF

    @classmethod
    def create(cls, trace: object, scenario: Callable[..., object] | None) -> TraceSelection:
        """Resolve ``trace=`` (None: the default selection for ``scenario``)."""
        if trace is None:
            own = scenario_file(scenario) if scenario is not None else None
            return cls(files=[own] if own else [], dirs=[], root=os.getcwd(), description="")
        entries = _as_entries(trace)
        if not entries:
            raise ValueError("trace must name at least one module, package or path")
        files: list[str] = []
        dirs: list[str] = []
        for entry in entries:
            more_files, more_dirs = _resolve(entry)
            for path in more_files + more_dirs:
                if _is_harness(_normalise(path)):
                    raise ValueError(
                        f"trace: {_entry_text(entry)!r} is pytest-concurrency's own harness, "
                        "which is never traced (a scheduling point in it would recurse)"
                    )
            files += more_files
            dirs += more_dirs
        description = "\n".join(sorted(_entry_text(entry) for entry in entries))
        return cls(files=files, dirs=dirs, root=None, description=description)

    def covers_file(self, filename: str) -> bool:
        """True when code from ``filename`` (a ``co_filename``) is traced; cached per name."""
        known = self._cache.get(filename)
        if known is None:
            known = self._cache[filename] = self._decide(filename)
        return known

    def covers(self, code: CodeType) -> bool:
        """True for a function code object from a traced file."""
        return bool(code.co_flags & _CO_OPTIMIZED) and self.covers_file(code.co_filename)

    def _decide(self, filename: str) -> bool:
        if filename.startswith("<"):  # "<string>", "<frozen ...>": no file
            return False
        path = _normalise(filename)
        if _is_harness(path):
            return False
        if path in self._files:
            return True
        if path.startswith(self._dirs):
            return True
        root = self._root
        if root is None or not path.startswith(os.path.join(root, "")):
            return False
        if path.startswith((*self._excluded, _PACKAGE_DIR + os.sep)):
            return False
        parts = path[len(root) :].split(os.sep)
        if any(part in ("site-packages", "dist-packages") for part in parts):
            return False
        return not _is_test_file(path, root)

    def __repr__(self) -> str:
        what = self.description.replace("\n", ", ") or f"default under {self._root}"
        return f"<TraceSelection {what}>"
