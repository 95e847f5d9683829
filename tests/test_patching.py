"""The Patcher puts back exactly what was there, in every shape of attribute."""

from __future__ import annotations

import types

import pytest

from pytest_concurrency._patching import Patcher


class Base:
    def method(self) -> str:
        return "base"


class Child(Base):
    pass


def _with_default(value: int = 1) -> int:
    return value


def test_module_global_is_restored() -> None:
    module = types.ModuleType("pc_patch_probe")
    module.value = 1  # type: ignore[attr-defined]
    with Patcher() as patcher:
        patcher.setattr(module, "value", 2)
        assert module.value == 2  # type: ignore[attr-defined]
        assert patcher.active
    assert module.value == 1  # type: ignore[attr-defined]


def test_inherited_method_patched_on_a_subclass_is_deleted_again() -> None:
    with Patcher() as patcher:
        patcher.setattr(Child, "method", lambda self: "patched")
        assert Child().method() == "patched"
    assert "method" not in Child.__dict__
    assert Child().method() == "base"


def test_a_missing_attribute_is_removed_again() -> None:
    module = types.ModuleType("pc_patch_probe")
    with Patcher() as patcher:
        patcher.setattr(module, "added", 1)
    assert not hasattr(module, "added")


def test_function_defaults_are_put_back_not_wiped() -> None:
    """``__defaults__`` lives in a data descriptor: deleting it would wipe the defaults."""
    with Patcher() as patcher:
        patcher.setattr(_with_default, "__defaults__", (2,))
        assert _with_default() == 2
    assert _with_default.__defaults__ == (1,)
    assert _with_default() == 1


def test_restore_is_lifo_idempotent_and_keeps_going_after_a_failure() -> None:
    module = types.ModuleType("pc_patch_probe")
    module.value = "original"  # type: ignore[attr-defined]

    class Stubborn:
        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{name} cannot be deleted")

    frozen = Stubborn()
    patcher = Patcher()
    patcher.setattr(module, "value", "first")
    patcher.setattr(module, "value", "second")
    patcher.setattr(frozen, "attr", 1)  # restoring it (a delete) fails
    with pytest.raises(AttributeError, match="cannot be deleted"):
        patcher.restore()
    assert module.value == "original"  # type: ignore[attr-defined]
    assert not patcher.active
    patcher.restore()  # nothing left: a no-op


def test_undoing_twice_is_undoing_once() -> None:
    """An interrupt can cut ``restore`` short after an undo: running it again must not fail."""
    target = types.SimpleNamespace()
    patcher = Patcher()
    patcher.setattr(target, "added", 1)
    del target.added  # as if a first restore had undone it and been interrupted
    patcher.restore()
    assert not hasattr(target, "added") and not patcher.active
