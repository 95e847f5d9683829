"""The ``fake_clock`` fixture inside real pytest runs: durations, pytest-timeout, xdist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "fake-clock.md"


def _guide_example() -> str:
    """The guide's first ``python`` code block: it must run as written."""
    text = GUIDE.read_text()
    match = re.search(r"```python title=\"test_janitor.py\"\n(.*?)```", text, re.DOTALL)
    assert match, "the guide lost its runnable example"
    return match.group(1)


JANITOR_TESTS = """
import threading
import time


def test_janitor_sleeping_480_s_finishes_after_advance(fake_clock):
    deleted = []

    def janitor():
        time.sleep(480)
        deleted.append("blob")

    thread = threading.Thread(target=janitor, daemon=True)
    thread.start()
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    fake_clock.advance(480)
    thread.join(5)
    assert deleted == ["blob"]


def test_an_hour_of_virtual_time(fake_clock):
    time.sleep(3600)
    fake_clock.advance(3600)
    assert fake_clock.pending == []
"""


def test_fixture_runs_and_pytest_durations_stay_real(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_janitor=JANITOR_TESTS, test_guide_example=_guide_example())
    result = pytester.runpytest_subprocess("-p", "pytest_concurrency", "--durations=0", "-vv")
    result.assert_outcomes(passed=3)
    durations = [
        float(match.group(1))
        for line in result.outlines
        if (match := re.match(r"\s*(\d+\.\d+)s (?:setup|call|teardown)\s", line))
    ]
    # "--durations=0 -vv" lists every phase; two hours of virtual time must not show
    assert durations, result.stdout.str()
    assert max(durations) < 30.0


@pytest.mark.inner_plugins("timeout")
def test_pytest_timeout_still_fires_under_the_fake_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_blocks="""
        import _thread

        def test_blocks_for_real(fake_clock):
            fake_clock.advance(3600)
            lock = _thread.allocate_lock()
            lock.acquire()
            lock.acquire()  # blocks in C, in real time: only pytest-timeout ends it
        """
    )
    result = pytester.runpytest_subprocess("-p", "pytest_concurrency", "--timeout=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Timeout*1.0*"])


@pytest.mark.inner_plugins("xdist")
def test_works_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_janitor_a=JANITOR_TESTS, test_janitor_b=JANITOR_TESTS)
    result = pytester.runpytest_subprocess("-p", "pytest_concurrency", "-n", "2")
    result.assert_outcomes(passed=4)


def test_fixture_restores_the_globals_after_a_failing_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_restore="""
        import threading
        import time

        REAL = (time.monotonic, time.sleep, threading.Condition.wait, threading.Lock)

        def test_fails_with_a_parked_thread(fake_clock):
            threading.Thread(target=time.sleep, args=(480,), daemon=True).start()
            assert fake_clock.wait_for_sleepers(1, timeout=5)
            raise AssertionError("the test failed")

        def test_then_everything_is_real_again():
            assert (time.monotonic, time.sleep, threading.Condition.wait, threading.Lock) == REAL
        """
    )
    result = pytester.runpytest_subprocess("-p", "pytest_concurrency")
    result.assert_outcomes(passed=1, failed=1)


def test_marker_passes_options_and_bad_options_fail_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import datetime
        import time
        import pytest

        START = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)

        @pytest.mark.fake_clock(start=START, datetime=False)
        def test_start(fake_clock):
            assert abs(time.time() - START.timestamp()) < 1

        @pytest.mark.fake_clock(bogus=1)
        def test_bad(fake_clock):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--strict-markers")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.fake_clock:*bogus*"])
