"""Failures show the user's code, not the plugin's wiring or the fakes' internals.

Each kind of failure a user meets (an interleaving found by the fixture or the
marker, a fake clock assertion, a leak, a gated fake that times out or is left
blocked, a replay token of another test) is run in an inner pytest, and its
whole output is searched for the harness's frames.
"""

from __future__ import annotations

import pytest

FAILING = """
import asyncio
import threading
import time

import pytest


def _lost_update():
    box = {"n": 0}

    def add():
        value = box["n"]
        threading.Lock().acquire()
        box["n"] = value + 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert box["n"] == 2


def test_fixture(interleavings):
    interleavings.explore(_lost_update, strategy="dfs")


@pytest.mark.interleavings(strategy="dfs")
def test_marker():
    _lost_update()


def test_clock(fake_clock):
    start = time.monotonic()
    fake_clock.advance(10)
    assert time.monotonic() - start == 5


@pytest.mark.no_leaks("threads")
def test_leak():
    stop = threading.Event()
    threading.Thread(target=stop.wait, args=(5,), daemon=True).start()


def test_gate_timeout(gated_fake):
    gated_fake(block_timeout=0.1)()


def test_encoder_timeout(gated_encoder):
    gated_encoder(block_timeout=0.1).encode(["a"])


def test_left_blocked(gated_fake):
    fake = gated_fake()
    threading.Thread(target=lambda: fake(), daemon=True).start()
    assert fake.wait_for_callers(1, timeout=5)
"""


@pytest.fixture
def output(pytester: pytest.Pytester) -> str:
    pytester.makepyfile(test_failing=FAILING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rfE")
    result.assert_outcomes(failed=7)  # a leak and a caller left at a gate fail their tests
    return result.stdout.str() + result.stderr.str()


def _mentions_wiring(output: str) -> bool:
    return "pytest_concurrency/_wiring" in output or "pytest_concurrency._wiring" in output


def test_no_frames_or_names_of_the_plugin_layer(output: str) -> None:
    assert not _mentions_wiring(output)


def test_no_frames_of_the_fakes_or_contextlib(output: str) -> None:
    assert "pytest_concurrency/fakes/" not in output
    assert "contextlib.py" not in output
    assert "def passage" not in output


def test_the_fixtures_print_as_themselves(output: str) -> None:
    assert "interleavings = <interleavings fixture of test_failing.py::test_fixture>" in output
    assert "gated_fake = <function gated_fake at" in output


def test_a_replay_token_of_another_test_fails_before_running(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_failing=FAILING)
    found = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_failing.py::test_marker")
    token = next(
        line.split("--interleavings-replay=")[1].split()[0]
        for line in found.outlines
        if "--interleavings-replay=" in line
    )
    pytester.makepyfile(
        test_other="""
        import pytest

        RAN = []

        @pytest.mark.interleavings(strategy="dfs")
        def test_other():
            RAN.append(1)
            print("BODY RAN")
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-s", "test_other.py", f"--interleavings-replay={token}"
    )
    result.assert_outcomes(errors=1)  # refused at setup, before the body
    output = result.stdout.str()
    assert "BODY RAN" not in output
    assert "this token was recorded by another test, not by test_other.py::test_other" in output
    assert "nothing was run" in output
    assert not _mentions_wiring(output)
