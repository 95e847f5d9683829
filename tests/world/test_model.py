"""The world's data model is a leaf, and a run's failure kind is one of a closed set."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pytest_concurrency.world import model, scheduler
from pytest_concurrency.world.model import FailureKind, RunFailure


def test_the_model_imports_nothing_else_of_the_explorer() -> None:
    tree = ast.parse(Path(model.__file__).read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert not any(name.startswith("pytest_concurrency.world") for name in imported)


def test_old_import_paths_still_name_the_same_classes() -> None:
    for name in ("ThreadRecord", "RunFailure", "Abort", "ScheduleMismatch", "Waitable"):
        assert getattr(scheduler, name) is getattr(model, name)


def test_a_failure_kind_is_checked_and_reads_as_its_text() -> None:
    failure = RunFailure("deadlock", "two threads wait for each other")
    assert failure.kind is FailureKind.DEADLOCK and failure.kind == "deadlock"
    assert f"{failure.kind}" == str(failure.kind) == "deadlock"
    with pytest.raises(ValueError, match="'deadlok' is not a valid FailureKind"):
        RunFailure("deadlok", "typo")
