"""A pytest-timeout that lands mid-exploration says how far it got (both methods).

The scenario hangs, in some schedules only, in ``select.select`` on a pipe: a
blocking call that is no scheduling point, so the scheduler cannot see it
(``uncontrolled_timeout`` is set beyond the test's timeout so that the
watchdog does not turn it into an UncontrolledBlock first). The timeout's own
failure goes on, with a note: the schedules finished, the strategy and seed,
and the replay token of the schedule in progress -- which, replayed, hangs
again in the same place. A later test writes to the pipe, freeing the thread
left blocked. The thread method ends the process instead of raising: the same
text is printed before it does.
"""

from __future__ import annotations

import re
import shlex

import pytest

pytest_plugins = ["pytester"]

_HANGS = """
import os
import select
import threading
from pytest_concurrency.world.api import checkpoint

READ, WRITE = os.pipe()

def hangs_in_some_schedules():
    box = {"ready": False}
    def writer():
        checkpoint("one")
        checkpoint("two")
        box["ready"] = True
    def reader():
        checkpoint("one")
        if not box["ready"]:
            select.select([READ], [], [], 60)  # where the scheduler cannot see it
    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

def test_hangs(interleavings):
    interleavings.explore(
        hangs_in_some_schedules,
        strategy="dfs",
        runs=None,
        uncontrolled_timeout=600,
    )

def test_release():
    os.write(WRITE, b"go")  # the thread left blocked in select() finishes
"""


def test_a_timed_out_exploration_tells_its_progress_and_the_token_in_progress(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = ["-p", "pytest_concurrency", "-p", "pytest_timeout"]
    pytester.makepyfile(test_hang=_HANGS)
    result = pytester.runpytest_subprocess(*plugins, "--timeout=2", "--timeout-method=signal")
    result.assert_outcomes(failed=1, passed=1)
    output = result.stdout.str()
    assert "Failed: Timeout" in output  # the timeout's failure, not swallowed or replaced
    flat = " ".join(re.sub(r"^E\s+", "", line).strip() for line in output.splitlines())
    found = re.search(
        r"interleavings: interrupted while running schedule (\d+) of an exploration with "
        r"strategy 'dfs' \(preemption bound 2\), after (\d+) finished schedule\(s\)\. The "
        r"schedule in progress, up to where it was: replay token (pc1\.[A-Za-z0-9_-]+); "
        r"replay it with: (pytest test_hang\.py::test_hangs --interleavings-replay=\3)",
        flat,
    )
    assert found, output
    assert int(found.group(1)) == int(found.group(2)) + 1
    assert int(found.group(2)) >= 1  # dfs runs the non-hanging schedules first
    # the token leads the replay back into the hang: it times out again, replaying
    replay = pytester.runpytest_subprocess(
        *plugins,
        "--timeout=2",
        "--timeout-method=signal",
        *shlex.split(found.group(4))[1:],
        "test_hang.py::test_release",
    )
    replay.assert_outcomes(failed=1, passed=1)
    assert "Failed: Timeout" in replay.stdout.str()


def test_the_thread_method_prints_the_progress_before_it_ends_the_process(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_hang=_HANGS)
    result = pytester.runpytest_subprocess(
        "-p",
        "pytest_concurrency",
        "-p",
        "pytest_timeout",
        "--timeout=2",
        "--timeout-method=thread",
        "test_hang.py::test_hangs",
    )
    assert result.ret == 1  # pytest-timeout's os._exit(1): no summary, no outcomes
    output = result.stdout.str() + result.stderr.str()
    assert "+ Timeout +" in output
    assert re.search(
        r"interleavings: interrupted while running schedule \d+ of an exploration with "
        r"strategy 'dfs' \(preemption bound 2\), after \d+ finished schedule\(s\)\. The "
        r"schedule in progress, up to where it was: replay token pc1\.[A-Za-z0-9_-]+; "
        r"replay it with:\s+pytest test_hang\.py::test_hangs --interleavings-replay=pc1\.",
        output,
    ), output
