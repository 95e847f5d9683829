"""pytest wiring for checks made after a test's teardown: one outcome per test.

Thin on purpose: for a test some feature wants checked (see
:mod:`pytest_concurrency._post_teardown`) it runs pytest's own protocol with
logging deferred, runs the checks, folds their failures into the test's
report and only then logs every report. Any other test goes through pytest's
protocol untouched; the cost for it is one call of each feature's predicate.

``tryfirst`` so that a plain protocol implementation of another plugin does
not take the test first (such a plugin's test would fall back to a teardown
failure). Hook wrappers (pytest-timeout's, pytest's own) still wrap this one.
"""

from __future__ import annotations

import pytest

from pytest_concurrency import _post_teardown


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if not _post_teardown.wanted(item):
        return None
    from _pytest.runner import runtestprotocol

    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    _post_teardown.begin(item)
    try:
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        failures = _post_teardown.run_checks(item)
    finally:
        _post_teardown.end(item)
    _post_teardown.merge(reports, failures)
    for report in reports:
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
