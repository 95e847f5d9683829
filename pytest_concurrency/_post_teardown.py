"""Checks that run after a test's teardown and fail the test itself: one outcome per test.

Some problems are only known once every fixture is torn down: a thread the
test leaked (a fixture's own thread, stopped in its teardown, is not a leak),
a caller still blocked at a gated fake's gate. By then pytest has already
reported the test's call, so failing the teardown reads "1 passed, 1 error",
which users and CI take for a passing test with a fixture problem.

So a feature that finds such problems takes part in two steps:

- at configure, :func:`want` says which tests may need a check, cheaply and
  before they run (a marker, a fixture name). Tests no feature wants keep
  pytest's own protocol, untouched.
- while a wanted test runs, :func:`register` adds a check: a zero-argument
  callable returning a failure text, or None, called once after the test's
  last teardown. It returns False when the test is not run by this protocol
  (no feature wanted it, or another plugin owns its protocol); the feature
  then fails the teardown itself, as before.

The pytest wiring runs a wanted test's protocol with logging deferred, calls
:func:`run_checks` after its teardown, lets :func:`merge` fold the failures into
the reports (the call's, or the setup's when the call never ran), and only
then logs them: every reporter, xdist's serialisation, JUnit XML, ``-x`` and
``--lf`` see one failed test.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

#: a check: called once after the test's teardown; a failure text, or None when all is well
Check = Callable[[], "str | None"]
#: which tests may register checks; asked before each test runs, so it must be cheap
Predicate = Callable[[pytest.Item], bool]

_WANTS = pytest.StashKey[list[Predicate]]()
#: the checks of the test being run by this protocol; absent under pytest's own protocol
_CHECKS = pytest.StashKey[list[tuple[str, Check]]]()

#: plugins that rerun a test by owning its protocol; they keep it when they would rerun it
_RERUN_PLUGINS = ("rerunfailures", "flaky")


def want(config: pytest.Config, predicate: Predicate) -> None:
    """Declare that the tests for which ``predicate(item)`` is true may register checks."""
    config.stash.setdefault(_WANTS, []).append(predicate)


def wanted(item: pytest.Item) -> bool:
    """Whether ``item`` should run under this protocol: some feature wants it, no rerunner owns it.

    A test that a rerun plugin would rerun keeps that plugin's protocol: the
    user asked for reruns, and the checks then fail the teardown as before
    (a teardown failure is rerun like any other).
    """
    predicates = item.config.stash.get(_WANTS, ())
    return any(predicate(item) for predicate in predicates) and not _rerun_requested(item)


def _rerun_requested(item: pytest.Item) -> bool:
    manager = item.config.pluginmanager
    if not any(manager.has_plugin(name) for name in _RERUN_PLUGINS):
        return False
    if item.get_closest_marker("flaky") is not None:
        return True
    reruns = item.config.getoption("reruns", None) or item.config.getoption("force_flaky", None)
    return bool(reruns)


def begin(item: pytest.Item) -> None:
    """Start collecting checks for ``item`` (the protocol calls this before setup)."""
    item.stash[_CHECKS] = []


def register(item: pytest.Item, name: str, check: Check) -> bool:
    """Run ``check`` after ``item``'s teardown and fail the test if it returns a text.

    ``name`` titles the failure's section (``"leaks"``). Returns False, and
    keeps nothing, when ``item`` is not run by this protocol: the caller must
    then report the problem itself.
    """
    checks = item.stash.get(_CHECKS, None)
    if checks is None:
        return False
    checks.append((name, check))
    return True


def run_checks(item: pytest.Item) -> list[tuple[str, str]]:
    """Call ``item``'s checks, once each, in registration order; return ``(name, failure)`` pairs.

    A check that raises is a failure too (its traceback is the text): a bug
    in a check must fail the test, not crash the run or pass it.
    """
    checks = item.stash.get(_CHECKS, [])
    failures: list[tuple[str, str]] = []
    try:
        for name, check in checks:
            try:
                text = check()
            except Exception as error:
                summary = f"the {name} check itself raised {type(error).__name__}: {error}"
                text = summary + "\n" + "".join(traceback.format_exception(error))
            if text:
                failures.append((name, text))
    finally:
        end(item)
    return failures


def end(item: pytest.Item) -> None:
    """Stop collecting checks for ``item`` (idempotent; unrun checks are dropped)."""
    if _CHECKS in item.stash:
        del item.stash[_CHECKS]


def merge(reports: Sequence[pytest.TestReport], failures: Sequence[tuple[str, str]]) -> None:
    """Fold ``failures`` into the test's own report, so the test has exactly one outcome.

    The report is the call's, or the setup's when the call never ran. A
    report that already failed keeps its failure, and each check adds a
    section after it; any other outcome (passed, skipped, xfailed, xpassed)
    becomes a failure whose message is the first check's text.
    """
    if not failures or not reports:
        return
    report = next((r for r in reports if r.when == "call"), reports[0])
    sections = [(f"{name} (checked after teardown)", text) for name, text in failures]
    if not report.failed:
        (_, first), sections = sections[0], sections[1:]
        previous = _outcome_before(report)
        report.outcome = "failed"
        report.longrepr = _failure_repr(first)
        if hasattr(report, "wasxfail"):  # a failed report with it would not count as failed
            del report.wasxfail
        if previous:
            sections.append(("reported before the checks after teardown", previous))
    for title, text in sections:
        _add_section(report, title, text)


def _outcome_before(report: pytest.TestReport) -> str | None:
    """What the test reported before a check failed it, when that was not a plain pass."""
    reason = getattr(report, "wasxfail", None)
    if reason is not None:
        kind = "xfailed" if report.skipped else "xpassed"
        return f"{kind}: {reason}" if reason else kind
    if report.skipped:
        longrepr = report.longrepr
        detail = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return f"skipped: {detail.removeprefix('Skipped: ')}"
    return None


def _failure_repr(text: str) -> TerminalRepr:
    """The representation ``pytest.fail(text, pytrace=False)`` would have: no traceback.

    Its crash line is ``Failed: <first line>``, which the terminal's short
    summary and JUnit XML's failure message show.
    """
    try:
        raise pytest.fail.Exception(text, pytrace=False)
    except pytest.fail.Exception:
        excinfo = pytest.ExceptionInfo.from_current()
    return excinfo.getrepr(style="value")


def _add_section(report: pytest.TestReport, title: str, text: str) -> None:
    addsection = getattr(report.longrepr, "addsection", None)  # pytest's exception reprs
    if addsection is not None:
        addsection(title, text)
    else:  # a plugin's own text, or a repr without sections: keep it, then ours
        report.longrepr = f"{report.longreprtext}\n\n{'-' * 8} {title} {'-' * 8}\n{text}"
