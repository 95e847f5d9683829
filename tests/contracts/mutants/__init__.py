"""Buggy guards: each seed's original bug, its review's follow-ups, and the issue's residuals.

Each mutant is a small subclass (or copy) of a reference guard with one bug put
back. ``Mutant`` names the properties of its contract that must catch it; the
contract tests run the whole contract against every mutant and check that
exactly those properties fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pytest_concurrency.contracts import Contract

C = TypeVar("C", bound=Contract)


@dataclass(frozen=True)
class Mutant:
    """A buggy guard and the contract properties that catch it."""

    name: str
    #: where the bug comes from: "seed 000 original", "seed 000 review", "issue 5 residual"
    origin: str
    #: the bug, in one line
    bug: str
    #: called with make_subject's arguments; returns the buggy guard
    subject: Callable[..., Any]
    #: the properties that must fail (and no other)
    catches: frozenset[str]
    #: properties not run against this mutant, each with the reason
    skipped: tuple[tuple[str, str], ...] = ()

    def bind(self, contract: type[C], **budgets: Any) -> type[C]:
        """A subclass of ``contract`` whose ``make_subject`` builds this mutant.

        ``budgets`` override class attributes of the contract (``real_timeout=0.5``).
        The mutants' code is traced with the guards they build on (the reference
        ones, the demo's): it lives in a test
        directory, which is never traced by default, and the reduction finds
        races only in the code it sees.
        """
        budgets.setdefault("trace", [__name__, "reference_impl", "pytest_concurrency.demo"])
        return contract.for_subject(self.subject, name=self.name, **budgets)


def mutant(
    subject: Callable[..., Any],
    origin: str,
    bug: str,
    *catches: str,
    name: str = "",
    skipped: tuple[tuple[str, str], ...] = (),
) -> Mutant:
    """A :class:`Mutant` named after ``subject`` unless ``name`` is given."""
    return Mutant(name or subject.__name__, origin, bug, subject, frozenset(catches), skipped)
