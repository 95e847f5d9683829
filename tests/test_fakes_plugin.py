"""The gated_fake and gated_encoder fixtures, run through pytest itself (pytester).

In-process runs are enough: the fakes patch no globals. The point of these
tests is the teardown contract: a test that leaves a caller blocked fails with
a message naming how many and where they called from; a clean test passes, and
every gate is open after teardown so no thread is stranded.
"""

from __future__ import annotations

import pytest

CLEAN = """
import threading

def test_stampede_is_held_then_released(gated_fake, gated_encoder):
    loader = gated_fake(return_value="value", name="loader")
    encoder = gated_encoder(dim=4, name="vocab")
    threads = [threading.Thread(target=lambda: (loader(), encoder.encode(["cat"])))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    assert loader.wait_for_callers(3, timeout=5)
    loader.open()
    assert encoder.wait_for_callers(3, timeout=5)
    encoder.open()
    for thread in threads:
        thread.join(5)
    assert loader.calls == encoder.encode_calls == 3
    assert encoder.max_in_flight == 3

def test_factory_arguments(gated_fake, gated_encoder):
    fake = gated_fake(1, side_effect=[2], name="n", opened=True, block_timeout=1.0)
    assert fake() == 2
    assert gated_encoder(3, opened=True).encode(["x"])[0].__len__() == 3
"""

LEAKY = """
import threading

STARTED = []

def test_leaves_callers_blocked(gated_fake):
    loader = gated_fake(name="loader")
    for index in range(2):
        thread = threading.Thread(target=lambda: loader("key"), name=f"worker-{index}")
        STARTED.append(thread)
        thread.start()
    assert loader.wait_for_callers(2, timeout=5)

def test_teardown_opened_the_gate():
    for thread in STARTED:
        thread.join(5)
    assert STARTED and not any(thread.is_alive() for thread in STARTED)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in-process without hypothesis's plugin, which costs ~1.7 s per run here."""
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


def _line_of(source: str, needle: str) -> int:
    """1-based line of the first line containing ``needle`` in the file pytester writes."""
    lines = source.strip().splitlines()  # makepyfile dedents and strips the source
    return next(no for no, line in enumerate(lines, 1) if needle in line)


def test_fixtures_hold_and_release_callers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_clean=CLEAN)
    # pytest-asyncio (a dev dependency) warns at startup when no ini sets its loop scope
    result = run(pytester, "--strict-markers", "-W", "error", "-p", "no:asyncio")
    result.assert_outcomes(passed=2)


def test_a_test_leaving_callers_blocked_fails_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky=LEAKY)
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    line = _line_of(LEAKY, 'loader("key")')
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaves_callers_blocked*",
            "*gated_fake 'loader' still had 2 blocked callers at teardown: "
            f"worker-0 called from test_leaky.py:{line}; worker-1 called from test_leaky.py:{line}",
        ]
    )


def test_an_async_caller_cancelled_by_asyncio_run_is_not_reported(
    pytester: pytest.Pytester,
) -> None:
    source = """
import asyncio

def test_async_caller_cancelled_at_loop_exit(gated_encoder):
    encoder = gated_encoder(name="vocab")

    async def scenario():
        asyncio.create_task(encoder.aencode(["cat"]))
        while encoder.blocked < 1:
            await asyncio.sleep(0)
        # returning leaves the task pending: asyncio.run cancels it

    asyncio.run(scenario())
    assert (encoder.encode_calls, encoder.in_flight) == (1, 0)
"""
    pytester.makepyfile(test_encoder=source)
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_blocked_encoder_caller_is_reported(pytester: pytest.Pytester) -> None:
    source = """
import threading

def test_cold_cache(gated_encoder):
    encoder = gated_encoder(name="vocab")
    thread = threading.Thread(target=lambda: encoder.encode(["cat"]), name="cold")
    thread.start()
    assert encoder.wait_for_callers(1, timeout=5)
"""
    pytester.makepyfile(test_encoder=source)
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    line = _line_of(source, "encoder.encode(")
    result.stdout.fnmatch_lines(
        [
            "*gated_encoder 'vocab' still had 1 blocked caller at teardown: "
            f"cold called from test_encoder.py:{line}"
        ]
    )


def test_a_failing_test_still_gets_its_gates_opened(pytester: pytest.Pytester) -> None:
    source = """
import threading

THREADS = []

def test_fails_while_a_caller_waits(gated_fake):
    fake = gated_fake()
    THREADS.append(threading.Thread(target=fake))
    THREADS[0].start()
    assert fake.wait_for_callers(1, timeout=5)
    assert False, "the test's own failure"

def test_thread_was_released():
    THREADS[0].join(5)
    assert not THREADS[0].is_alive()
"""
    pytester.makepyfile(test_fail=source)
    result = run(pytester)
    result.assert_outcomes(failed=1, passed=1, errors=1)
    result.stdout.fnmatch_lines(["*gated_fake #1 still had 1 blocked caller at teardown*"])
    result.stdout.fnmatch_lines(["*AssertionError: the test's own failure*"])


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--fixtures")
    result.stdout.fnmatch_lines(["gated_fake*", "*GatedFake*", "gated_encoder*", "*GatedEncoder*"])
