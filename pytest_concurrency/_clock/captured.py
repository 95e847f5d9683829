"""Time functions that modules captured before the clock was installed.

``from time import monotonic`` binds the *real* function into a module at
import; patching ``time.monotonic`` later does not reach it. So does a default
argument, ``def __init__(self, clock=time.monotonic)``. On install the clock
scans ``sys.modules`` for both -- module attributes, and the defaults of the
module's functions and of the methods of its classes -- that are the real time
functions (or freezegun's fakes of them, when freezegun started first) and
swaps in the thread-scoped stand-ins, for the test's duration.

Harness modules (pytest, its plugins, coverage, Hypothesis, this package) are
never touched: pytest times the test with its own captured clock, in the same
thread. Standard-library modules are left alone except ``threading`` and
``queue``, whose captured ``monotonic`` computes every wait's remaining time.

Scanning a thousand modules costs milliseconds, so the findings are cached per
module object and re-used while the module's namespace keeps its size.
"""

from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pytest_concurrency._clock import scoped
from pytest_concurrency._clock.harness import HARNESS_PACKAGES, ModuleRules
from pytest_concurrency._patching import Patcher
from pytest_concurrency._public import public
from pytest_concurrency.errors import ConcurrencyWarning


@public
class FakeClockWarning(ConcurrencyWarning):
    """A captured time function the fake clock could not replace (it keeps real time)."""


@dataclass(frozen=True)
class Finding:
    """One place holding a time function: ``module.attr`` or a function's default."""

    module: str
    owner: Any  # the module, or the function whose defaults hold it
    slot: str  # the attribute name, or "__defaults__" / "__kwdefaults__"
    where: str  # how it is reported


def _freezegun_fakes() -> dict[int, str]:
    """id of each of freezegun's fake time functions -> the ``time`` name it stands for."""
    freezegun_api = sys.modules.get("freezegun.api")
    if freezegun_api is None:
        return {}
    names = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns")
    fakes = {}
    for name in names:
        fake = getattr(freezegun_api, f"fake_{name}", None)
        if fake is not None:
            fakes[id(fake)] = name
    return fakes


def _functions_of(module: types.ModuleType, namespace: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Functions defined in ``module``: top-level ones and methods of its classes."""
    module_name = module.__name__
    for name, value in list(namespace.items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module_name:
            yield name, value
        elif isinstance(value, type) and value.__module__ == module_name:
            for attr, member in list(vars(value).items()):
                function = getattr(member, "__func__", member)  # staticmethod, classmethod
                if isinstance(function, types.FunctionType):
                    yield f"{name}.{attr}", function


def _has_target(values: Any, targets: dict[int, str]) -> bool:
    if isinstance(values, tuple):
        return any(id(value) in targets for value in values)
    if isinstance(values, dict):
        return any(id(value) in targets for value in values.values())
    return False


def _scan(module: types.ModuleType, targets: dict[int, str]) -> list[Finding]:
    """Every place in ``module`` holding a time function (ignoring *which* one: cacheable)."""
    module_name = module.__name__
    namespace = module.__dict__
    found = [
        Finding(module_name, module, name, f"{module_name}.{name}")
        for name, value in list(namespace.items())
        if id(value) in targets
    ]
    for qualname, function in _functions_of(module, namespace):
        for slot in ("__defaults__", "__kwdefaults__"):
            if _has_target(getattr(function, slot), targets):
                found.append(
                    Finding(module_name, function, slot, f"{module_name}.{qualname} (default)")
                )
    return found


class CapturedScanner:
    """Finds and patches captured time functions; caches findings per module object."""

    def __init__(self) -> None:
        #: only for "is this a stdlib module": per-clock rules decide what gets patched
        self._rules = ModuleRules()
        #: module name -> (module object, namespace size, findings)
        self._cache: dict[str, tuple[types.ModuleType, int, list[Finding]]] = {}

    def patch(self, patcher: Patcher, rules: ModuleRules) -> list[tuple[str, str]]:
        """Replace every captured time function; return ``(module, what)`` for each.

        Modules that keep real time get back the real functions where freezegun
        put its (frozen, process-wide) fakes: ``subprocess`` must time its
        child with a clock that moves.
        """
        fakes = _freezegun_fakes()
        targets = {id(function): name for name, function in scoped.REALS.items()}
        targets.update(fakes)
        patched: list[tuple[str, str]] = []
        for finding in self._findings(targets, with_real_time_modules=bool(fakes)):
            if rules.is_scannable(finding.module):
                replacements, wanted = scoped.REPLACEMENTS, targets
            elif finding.slot.startswith("__"):
                continue  # freezegun never touches defaults
            else:
                replacements, wanted = scoped.REALS, fakes
            if self._replace(patcher, finding, wanted, replacements) and wanted is targets:
                patched.append((finding.module, finding.where))
        return patched

    @staticmethod
    def _replace(
        patcher: Patcher, finding: Finding, wanted: dict[int, str], replacements: dict[str, Any]
    ) -> bool:
        try:
            if finding.slot.startswith("__"):
                current = getattr(finding.owner, finding.slot)
                if not _has_target(current, wanted):
                    return False
                patcher.setattr(
                    finding.owner, finding.slot, _replaced(current, wanted, replacements)
                )
            else:
                current = getattr(finding.owner, finding.slot, None)
                if id(current) not in wanted:
                    return False
                patcher.setattr(finding.owner, finding.slot, replacements[wanted[id(current)]])
        except (AttributeError, TypeError) as error:
            warnings.warn(
                f"fake clock: could not patch {finding.where} ({error}); "
                f"module {finding.module!r} keeps real time there",
                FakeClockWarning,
                stacklevel=5,
            )
            return False
        return True

    def _findings(
        self, targets: dict[int, str], *, with_real_time_modules: bool
    ) -> Iterator[Finding]:
        rules = self._rules
        for name, module in list(sys.modules.items()):
            if not isinstance(module, types.ModuleType) or name in _NEVER_TOUCHED:
                continue
            if not with_real_time_modules and not rules.is_scannable(name):
                continue
            if rules.keeps_real_time(name) and name.partition(".")[0] in HARNESS_PACKAGES:
                continue
            try:
                size = len(module.__dict__)
            except (AttributeError, TypeError):
                continue
            cached = self._cache.get(name)
            if cached is None or cached[0] is not module or cached[1] != size:
                try:
                    findings = _scan(module, targets)
                except Exception:
                    continue
                cached = (module, size, findings)
                self._cache[name] = cached
            yield from cached[2]


def _replaced(values: Any, targets: dict[int, str], replacements: dict[str, Any]) -> Any:
    if isinstance(values, tuple):
        return tuple(replacements[targets[id(v)]] if id(v) in targets else v for v in values)
    return {k: replacements[targets[id(v)]] if id(v) in targets else v for k, v in values.items()}


#: the clock's own modules: the patched ``time`` module itself, and ``datetime``
_NEVER_TOUCHED = frozenset({"time", "datetime"})

#: one scanner per process: its cache makes repeated installs cheap
SCANNER = CapturedScanner()
