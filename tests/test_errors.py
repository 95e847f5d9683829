"""One module names every public exception and warning, each under one base class."""

from __future__ import annotations

import pickle

import pytest

import pytest_concurrency as pc
from pytest_concurrency import errors


@pytest.mark.parametrize("name", [n for n in errors.__all__ if not n.startswith("Concurrency")])
def test_every_public_exception_and_warning_has_the_one_base(name: str) -> None:
    cls = getattr(errors, name)
    base = errors.ConcurrencyWarning if issubclass(cls, Warning) else errors.ConcurrencyError
    assert issubclass(cls, base)


def test_the_builtins_callers_expect_are_kept_and_the_public_names_are_the_same_classes() -> None:
    assert issubclass(errors.InterleavingFailure, AssertionError)  # pytest: a failed assertion
    assert issubclass(errors.ReplayTokenError, ValueError)
    for name in ("InterleavingFailure", "Deadlock", "UncontrolledBlock", "ReplayTokenError"):
        assert getattr(errors, name) is getattr(pc, name)


def test_one_except_clause_catches_what_the_library_raises() -> None:
    with pytest.raises(errors.ConcurrencyError):
        pc.replay(lambda: None, "pc1.not-a-token")
    error = errors.ReplayTokenError("bad token")
    assert pickle.loads(pickle.dumps(error)).args == ("bad token",)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        errors.Nope  # noqa: B018
