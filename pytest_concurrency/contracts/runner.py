"""Run a contract's properties outside pytest: the same methods pytest runs, one report.

``run_contract(TestMyCache)`` instantiates the class once per property (as
pytest does), runs the method inside :meth:`~Contract.property_scope` (the
leak check the autouse fixture applies under pytest) and records what
happened. The demo uses it to show real fixes' original bugs caught; the plugin's own suite
uses it to run every contract against every mutant.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency.contracts._base import Contract, Exploration
from pytest_concurrency.world.report import InterleavingFailure

__all__ = ["ContractReport", "PropertyResult", "run_contract"]

#: outcome of one property
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


@dataclass(frozen=True)
class PropertyResult:
    """One property run: its outcome, its message and what it explored."""

    name: str
    description: str
    #: "passed", "failed" (the property does not hold), "error" or "skipped"
    outcome: str
    #: the failure, error or skip message ("" when passed)
    message: str
    seconds: float
    explorations: tuple[Exploration, ...] = ()
    exception: BaseException | None = None
    #: what the property logged (captured, as pytest does, instead of printed)
    logs: tuple[str, ...] = ()

    @property
    def schedules(self) -> int:
        """Schedules explored by the property (0 for a property that explores nothing)."""
        return sum(exploration.schedules for exploration in self.explorations)

    @property
    def token(self) -> str:
        """The replay token of the failing schedule, or "" when there is none."""
        return self.exception.token if isinstance(self.exception, InterleavingFailure) else ""


@dataclass(frozen=True)
class ContractReport:
    """Every property of one contract class run against its subject."""

    contract: str
    results: tuple[PropertyResult, ...]

    @property
    def ok(self) -> bool:
        """True when no property failed or errored (skipped ones are allowed)."""
        return all(result.outcome in (PASSED, SKIPPED) for result in self.results)

    def named(self, outcome: str) -> tuple[str, ...]:
        """Names of the properties with ``outcome``."""
        return tuple(result.name for result in self.results if result.outcome == outcome)

    @property
    def failed(self) -> tuple[str, ...]:
        """Properties that do not hold (``failed``), not counting errors."""
        return self.named(FAILED)

    @property
    def schedules(self) -> int:
        return sum(result.schedules for result in self.results)

    def format(self) -> str:
        """One line per property, then the message of each that did not pass."""
        lines = [f"{self.contract}: {len(self.named(PASSED))}/{len(self.results)} properties hold"]
        for result in self.results:
            explored = f", {result.schedules} schedules" if result.explorations else ""
            lines.append(
                f"  {result.outcome.upper():7} {result.name} "
                f"({result.seconds * 1000:.0f} ms{explored})"
            )
        for result in self.results:
            if result.outcome not in (PASSED, SKIPPED):
                lines += ["", f"-- {result.name}: {result.description}", result.message]
        return "\n".join(lines)


def run_contract(
    contract: type[Contract],
    *,
    properties: Iterable[str] | None = None,
    stop_on_failure: bool = False,
) -> ContractReport:
    """Run ``contract``'s properties (all of them, or the ones named) and report each.

    ``contract`` must be a subclass that defines ``make_subject``.
    ``stop_on_failure`` stops after the first property that does not pass.
    KeyboardInterrupt and SystemExit are not caught.
    """
    if not (isinstance(contract, type) and issubclass(contract, Contract)):
        raise TypeError(f"contract must be a Contract subclass, got {contract!r}")
    if not contract.subject_is_defined():
        raise TypeError(
            f"contract {contract.__name__} does not define make_subject(); subclass it and "
            "return the implementation under test"
        )
    known = contract.properties()
    names = known if properties is None else tuple(properties)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"properties: {', '.join(map(repr, unknown))} not in {contract.__name__}; "
            f"valid: {', '.join(known)}"
        )
    results: list[PropertyResult] = []
    for name in names:
        result = _run_property(contract, name)
        results.append(result)
        if stop_on_failure and result.outcome in (FAILED, ERROR):
            break
    return ContractReport(contract.__name__, tuple(results))


class _LogCapture(logging.Handler):
    """Keeps the records a property logs (a failing delete is logged on purpose), as pytest does."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.contextmanager
def _captured_logs() -> Iterator[_LogCapture]:
    capture = _LogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)


def _run_property(contract: type[Contract], name: str) -> PropertyResult:
    instance = contract()
    started = _realtime.perf_counter()
    outcome, message = PASSED, ""
    exception: BaseException | None = None
    try:
        with _captured_logs() as logs, instance.property_scope():
            getattr(instance, name)()
    except pytest.skip.Exception as skipped:
        outcome, message = SKIPPED, str(skipped.msg)
    except (AssertionError, pytest.fail.Exception) as failure:
        outcome, message, exception = FAILED, _message(failure), failure
    except Exception as error:
        outcome, message, exception = ERROR, f"{type(error).__name__}: {error}", error
    return PropertyResult(
        name=name,
        description=contract.describe(name),
        outcome=outcome,
        message=message,
        seconds=_realtime.perf_counter() - started,
        explorations=tuple(instance.explorations),
        exception=exception,
        logs=tuple(logs.lines),
    )


def _message(failure: BaseException) -> str:
    if isinstance(failure, pytest.fail.Exception):
        return str(failure.msg)
    return str(failure) or type(failure).__name__
