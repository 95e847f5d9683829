"""Checks after teardown: each test gets exactly one outcome, whatever it reported before.

A conftest registers a probe check on the tests marked ``checked(text)``;
the table below says what each kind of test becomes when the check fails.
"""

from __future__ import annotations

import pytest

CONFTEST = """
import pytest

from pytest_concurrency import _post_teardown

def pytest_configure(config):
    config.addinivalue_line("markers", "checked(*results): after-teardown checks returning these")
    _post_teardown.want(config, lambda item: item.get_closest_marker("checked") is not None)

def _check_returning(result):
    def check():
        if isinstance(result, Exception):
            raise result
        return result
    return check

@pytest.fixture(autouse=True)
def _probe(request):
    marker = request.node.get_closest_marker("checked")
    for number, result in enumerate(marker.args if marker else (), 1):
        assert _post_teardown.register(request.node, f"probe {number}", _check_returning(result))
"""

TESTS = """
import pytest

@pytest.mark.checked("probe found a problem")
def test_passed():
    pass

@pytest.mark.checked(None, "")
def test_clean_checks_leave_it_passed():
    pass

@pytest.mark.checked("probe found a problem")
def test_failed():
    assert False, "own failure"

@pytest.mark.checked("probe found a problem")
def test_skipped():
    pytest.skip("not today")

@pytest.mark.checked("probe found a problem")
@pytest.mark.xfail(reason="known bug")
def test_xfailed():
    assert False

@pytest.mark.checked("probe found a problem")
@pytest.mark.xfail(reason="known bug")
def test_xpassed():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

@pytest.mark.checked("probe found a problem")
def test_setup_error(broken):
    pass

@pytest.mark.checked("first problem", "second problem")
def test_two_checks():
    pass

@pytest.mark.checked(RuntimeError("the check itself broke"))
def test_check_raises():
    pass

def test_unchecked():
    pass
"""


@pytest.fixture
def result(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_table=TESTS)
    return pytester.runpytest("-p", "no:cacheprovider", "-rA", "-vv")


def _reports(result: pytest.RunResult) -> dict[str, list[pytest.TestReport]]:
    by_test: dict[str, list[pytest.TestReport]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        by_test.setdefault(report.nodeid.split("::")[1], []).append(report)
    return by_test


@pytest.mark.parametrize(
    ("test", "outcomes"),
    [
        ("test_passed", ["passed", "failed", "passed"]),
        ("test_clean_checks_leave_it_passed", ["passed", "passed", "passed"]),
        ("test_failed", ["passed", "failed", "passed"]),
        ("test_skipped", ["passed", "failed", "passed"]),
        ("test_xfailed", ["passed", "failed", "passed"]),
        ("test_xpassed", ["passed", "failed", "passed"]),
        ("test_setup_error", ["failed", "passed"]),
        ("test_two_checks", ["passed", "failed", "passed"]),
        ("test_check_raises", ["passed", "failed", "passed"]),
        ("test_unchecked", ["passed", "passed", "passed"]),
    ],
)
def test_one_outcome_per_test(result: pytest.RunResult, test: str, outcomes: list[str]) -> None:
    reports = _reports(result)[test]
    assert [report.outcome for report in reports] == outcomes
    assert not any(hasattr(report, "wasxfail") and report.failed for report in reports)


def test_the_totals_count_each_test_once(result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=2, failed=7, errors=1)


def test_the_messages_keep_what_the_test_reported(result: pytest.RunResult) -> None:
    reports = _reports(result)

    def text(test: str) -> str:
        return "\n".join(report.longreprtext for report in reports[test])

    assert "probe found a problem" in text("test_passed")
    failed = text("test_failed")
    assert failed.index("own failure") < failed.index("probe 1 (checked after teardown)")
    assert "probe found a problem" in failed
    assert "reported before the checks after teardown" in text("test_skipped")
    assert "skipped: not today" in text("test_skipped")
    assert "xfailed: known bug" in text("test_xfailed")
    assert "xpassed: known bug" in text("test_xpassed")
    setup = text("test_setup_error")
    assert setup.index("setup broke") < setup.index("probe found a problem")
    two = text("test_two_checks")
    assert "first problem" in two
    assert "probe 2 (checked after teardown)" in two
    assert "second problem" in two
    raised = text("test_check_raises")
    assert "the probe 1 check itself raised RuntimeError: the check itself broke" in raised
    assert "Traceback (most recent call last):" in raised
    result.stdout.fnmatch_lines(
        [
            "ERROR test_table.py::test_setup_error - RuntimeError: setup broke",
            "FAILED test_table.py::test_passed - Failed: probe found a problem",
            "FAILED test_table.py::test_failed - AssertionError: own failure*",
        ]
    )


def test_registering_outside_the_protocol_is_refused(pytester: pytest.Pytester) -> None:
    """A test no feature wants runs under pytest's protocol: the caller must report by itself."""
    pytester.makepyfile(
        test_refused="""
        from pytest_concurrency import _post_teardown

        def test_refused(request):
            assert _post_teardown.register(request.node, "probe", lambda: "text") is False
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
