"""Whose replay token is it? Telling, before anything runs, that a token belongs elsewhere.

A token records a 16-bit tag of its scenario's qualified name (see
:mod:`.token`), nothing about the test. Given the test a token is replayed in,
and the other tests around it, the tag can still say a lot before a single
schedule runs:

- an ``@pytest.mark.interleavings`` test's scenario is its own body, so the
  token is either that body's or not this test's at all;
- a scenario defined inside a test function (a nested ``def`` or a lambda)
  has that test's name in its qualified name: a token recorded for a scenario
  nested in *another* test cannot be replayed by this one;
- a module-level scenario may be explored by several tests, so a token for
  one is not refused here (the explorer still refuses it, scenario by
  scenario, when the test runs).

Refusing early spares the user a full exploration that can only end in "the
token was not recorded by any exploration of this test".
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterator, Mapping

from pytest_concurrency.world import token as tokens

__all__ = ["foreign_token", "scenario_names"]

_NEW_LOCALS = inspect.CO_NEWLOCALS


def scenario_names(func: object) -> Iterator[str]:
    """The qualified names of ``func`` and of every function defined inside it."""
    target = getattr(func, "__func__", func)
    code = getattr(target, "__code__", None)
    qualname = getattr(target, "__qualname__", None)
    if not isinstance(qualname, str):
        return
    yield qualname
    if isinstance(code, types.CodeType):
        yield from _nested(code, qualname)


def _nested(code: types.CodeType, qualname: str) -> Iterator[str]:
    for constant in code.co_consts:
        if not isinstance(constant, types.CodeType):
            continue
        # a function's children are its "<locals>"; a class body's are its attributes
        inside = f"{qualname}.<locals>" if code.co_flags & _NEW_LOCALS else qualname
        name = getattr(constant, "co_qualname", f"{inside}.{constant.co_name}")
        yield name
        yield from _nested(constant, name)


def _tag(name: str) -> int:
    return tokens.scenario_tag(_Named(name))


class _Named:
    """A stand-in scenario with a given ``__qualname__``: tagged exactly as a scenario is."""

    def __init__(self, qualname: str) -> None:
        self.__qualname__ = qualname

    def __call__(self) -> None:
        """Never called: only its name is read."""


def _owner(tag: int, others: Mapping[str, object]) -> str | None:
    for label, func in others.items():
        if any(_tag(name) == tag for name in scenario_names(func)):
            return label
    return None


def foreign_token(
    token: str,
    *,
    test: str,
    body: Callable[..., object] | None,
    test_function: object,
    others: Mapping[str, object],
) -> str | None:
    """Why ``token`` cannot be replayed by ``test``, or None when it may be.

    ``body``: the test body when it is the scenario (the interleavings marker),
    else None; ``test_function``: the test's function; ``others``: the other
    tests' functions by node id, where the token's owner is looked for.
    """
    tag = tokens.decode(token).tag
    if body is not None:
        if _tag(tokens.scenario_name(body)) == tag:
            return None
    elif any(_tag(name) == tag for name in scenario_names(test_function)):
        return None
    owner = _owner(tag, others)
    if owner is None and body is None:
        return None  # perhaps a scenario shared by several tests: the explorer checks it
    where = f"was recorded by {owner}" if owner is not None else "belongs to another test"
    rerun = (
        f"replay it there (pytest {owner} --interleavings-replay={token})"
        if owner is not None
        else "replay it with the command its failure printed"
    )
    return (
        f"--interleavings-replay: this token {where}, not by {test}: {rerun}, or drop "
        "--interleavings-replay to explore this test."
    )
