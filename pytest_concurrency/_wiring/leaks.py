"""pytest wiring for the leak detectors: ``no_leaks`` marker, ``--leaks`` / ini, ``leaks`` fixture.

Thin on purpose: it decides *which* kinds a test is checked for (the closest
``no_leaks`` marker, united with ``--leaks`` or else the ``concurrency_leaks``
ini value) and turns a :class:`~pytest_concurrency.leaks.LeakReport` into a
test failure; measuring is :class:`~pytest_concurrency.leaks.LeakChecker`'s job.

A leak is only known once every fixture is torn down, so it is checked after
the teardown and fails the test itself: one failed test, not "1 passed,
1 error" (:mod:`pytest_concurrency._post_teardown`). Only where another
plugin owns the test's protocol does it fail the teardown instead.

A test that asks for no kind costs one marker lookup: nothing is imported,
patched or snapshotted. Threads the plugin starts for itself are named
``pytest-concurrency-*`` and are never reported.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_concurrency import _post_teardown

if TYPE_CHECKING:
    from pytest_concurrency.leaks import LeakChecker, RegistryWatcher

#: the section title of a leak found after teardown
_CHECK = "leaks"
_MARKER = "no_leaks"
#: kinds checked in every test (from --leaks, else the ini value); parsed once at configure
_RUN_KINDS = pytest.StashKey[tuple[str, ...]]()
#: the checker measuring a test, from before its setup to after its teardown
_CHECKER = pytest.StashKey["LeakChecker"]()
#: every checker started and not yet finished: aborted at unconfigure if a run is interrupted
_ACTIVE = pytest.StashKey[set["LeakChecker"]]()


def pytest_configure(config: pytest.Config) -> None:
    """Validate ``--leaks`` (else the ini value) once, before any test runs."""
    config.stash[_ACTIVE] = set()
    _post_teardown.want(config, _may_check)
    option = config.getoption("concurrency_leaks")
    if option is not None:  # the command line overrides the ini file, even when empty
        source, text = "--leaks", str(option)
    else:
        source, text = "ini value concurrency_leaks", str(config.getini("concurrency_leaks"))
    if not text.strip():
        config.stash[_RUN_KINDS] = ()
        return
    from pytest_concurrency.leaks import parse_kinds

    try:
        config.stash[_RUN_KINDS] = parse_kinds(text)
    except ValueError as error:
        raise pytest.UsageError(f"{source}: {error}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the recorders of any check a ``KeyboardInterrupt`` or ``pytest.exit`` cut short."""
    for checker in config.stash.get(_ACTIVE, set()):
        checker.abort()


def _may_check(item: pytest.Item) -> bool:
    """Whether ``item`` may be checked for leaks: by the run's kinds, its marker or the fixture."""
    return (
        bool(item.config.stash.get(_RUN_KINDS, ()))
        or item.get_closest_marker(_MARKER) is not None
        or "leaks" in getattr(item, "fixturenames", ())
    )


class _MarkerError(Exception):
    """A ``no_leaks`` marker with bad arguments: the test errors at setup, the run goes on."""


def _checker_for(item: pytest.Item) -> LeakChecker | None:
    """The checker this test asks for, or None (without importing anything) if it asks for none."""
    marker = item.get_closest_marker(_MARKER)
    run_kinds = item.config.stash.get(_RUN_KINDS, ())
    if marker is None and not run_kinds:
        return None
    from pytest_concurrency.leaks import ALL, DEFAULT_GRACE, LeakChecker, parse_kinds

    if marker is None:
        return LeakChecker(run_kinds)
    options: dict[str, Any] = dict(marker.kwargs)
    grace = options.pop("grace", DEFAULT_GRACE)
    try:
        if options:
            raise TypeError(f"unexpected keyword(s) {', '.join(sorted(options))}; allowed: grace")
        kinds = parse_kinds(marker.args or ALL)  # no arguments: every kind
        return LeakChecker((*kinds, *run_kinds), grace=grace)
    except (TypeError, ValueError) as error:
        raise _MarkerError(f"@pytest.mark.{_MARKER}{_marker_call(marker)}: {error}") from None


def _marker_call(marker: pytest.Mark) -> str:
    arguments = [repr(arg) for arg in marker.args]
    arguments += [f"{key}={value!r}" for key, value in marker.kwargs.items()]
    return f"({', '.join(arguments)})"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Take the baseline before any fixture is set up (outermost wrapper).

    A bad marker fails the setup only *after* the inner setup ran: failing
    before it would leave other plugins' teardown without the state it expects.
    """
    checker: LeakChecker | None = None
    problem: str | None = None
    try:
        checker = _checker_for(item)
    except _MarkerError as error:
        problem = str(error)
    if problem is not None:
        yield
        pytest.fail(problem, pytrace=False)
    if checker is not None:
        checker.start()
        item.config.stash[_ACTIVE].add(checker)
        if not _post_teardown.register(item, _CHECK, lambda: _finish(item.config, checker)):
            item.stash[_CHECKER] = checker  # checked by the teardown hook below
    return (yield)


def _finish(config: pytest.Config, checker: LeakChecker) -> str | None:
    """The leak report of ``checker``'s test, after its teardown (None if nothing leaked)."""
    config.stash[_ACTIVE].discard(checker)
    report = checker.finish()
    return report.format() if report else None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Where no after-teardown check runs (another plugin owns the protocol): fail the teardown.

    The comparison is made after every fixture is torn down (a fixture's own
    thread, stopped in its teardown, is not a leak); the test is then reported
    with an error at teardown, pytest's convention for a cleanup that failed.
    """
    checker = item.stash.get(_CHECKER, None)
    if checker is None:
        return (yield)
    del item.stash[_CHECKER]
    item.config.stash[_ACTIVE].discard(checker)
    try:
        result = yield
    except KeyboardInterrupt:
        checker.abort()
        raise
    except BaseException:
        # the teardown's own error comes first; the report rides along as a section
        report = checker.finish()
        if report:
            item.add_report_section("teardown", "leaks", report.format())
        raise
    report = checker.finish()
    if report:
        pytest.fail(report.format(), pytrace=False)
    return result


@pytest.fixture
def leaks(request: pytest.FixtureRequest) -> Iterator[RegistryWatcher]:
    """Watch registries that must not grow: ``leaks.watch(obj, name=None, max_growth=0)``.

    ``obj`` is a sized container or a zero-argument callable returning a size;
    its size is taken now and compared when this fixture is torn down. Request
    ``leaks`` before the fixtures that fill or clean the registry, so that it is
    torn down after them.
    """
    from pytest_concurrency.leaks import RegistryWatcher

    watcher = RegistryWatcher()
    yield watcher
    report = watcher.report()
    if report:
        text = report.format()
        if not _post_teardown.register(request.node, _CHECK, lambda: text):
            pytest.fail(text, pytrace=False)
