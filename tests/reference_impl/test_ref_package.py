"""Package-wide rules: standard library only, primitives and time looked up at call time."""

from __future__ import annotations

import ast
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import reference_impl
from reference_impl import (
    BuildOnceCache,
    DeferredDeleter,
    OrderedTurnstile,
    RunGuard,
    SingleFlight,
    WorkerPool,
)

PACKAGE = Path(reference_impl.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))


def _imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_only_the_standard_library_is_imported(path: Path) -> None:
    for node in _imports(path):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            continue  # our own modules
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        for name in names:
            top = str(name).split(".")[0]
            assert top in sys.stdlib_module_names or top == "__future__", (
                f"{path.name} imports {name}"
            )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_time_and_threading_names_are_never_bound_at_import(path: Path) -> None:
    """``from time import monotonic`` would hide the guard from fake clocks and the explorer."""
    for node in _imports(path):
        if isinstance(node, ast.ImportFrom):
            assert node.module not in ("time", "threading", "asyncio"), (
                f"{path.name}: from {node.module} import ..."
            )


def test_every_public_name_is_exported() -> None:
    for name in reference_impl.__all__:
        assert getattr(reference_impl, name).__module__.startswith("reference_impl.")


class IdleWorker:
    state = reference_impl.WorkerState.RUNNING

    def close(self) -> None:
        pass


def _count_constructions(
    monkeypatch: pytest.MonkeyPatch, primitive: str, build: Callable[[], Any]
) -> int:
    real = getattr(threading, primitive)
    made = 0

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal made
        made += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(threading, primitive, counting)
    try:
        build()
    finally:
        monkeypatch.undo()
    return made


@pytest.mark.parametrize(
    ("primitive", "build"),
    [
        ("Lock", SingleFlight),
        ("Lock", lambda: BuildOnceCache(str)),
        ("Lock", lambda: OrderedTurnstile(["a"])),
        ("Event", lambda: OrderedTurnstile(["a"])),
        ("Event", lambda: SingleFlight().do("k", lambda: 1)),
        ("Lock", RunGuard),
        ("Condition", lambda: DeferredDeleter(print)),
        ("Condition", lambda: WorkerPool(lambda key: IdleWorker())),
    ],
)
def test_primitives_are_created_through_threading_at_call_time(
    monkeypatch: pytest.MonkeyPatch, primitive: str, build: Callable[[], Any]
) -> None:
    assert _count_constructions(monkeypatch, primitive, build) >= 1


def test_the_default_clock_reads_time_monotonic_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = RunGuard()
    pool: WorkerPool[str, IdleWorker] = WorkerPool(lambda key: IdleWorker(), per_key=1)
    pool.release(pool.claim("k"))  # type: ignore[arg-type]  # last used "now" (real time)
    monkeypatch.setattr(time, "monotonic", lambda: 1e12)  # a fake clock, set afterwards
    assert guard.begin("op", "/r", None).started_at == 1e12
    (worker,) = pool.workers("k")
    pool.cleanup(idle_seconds=3600.0)
    assert pool.workers("k") != (worker,)  # idle by the fake clock: reaped
