"""An asyncio scenario through the ``interleavings`` fixture, and its replay from the CLI."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]


def test_an_async_scenario_fails_with_a_replay_command_that_reproduces_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_store="""
import asyncio

from pytest_concurrency.demo.zoo import aio_semaphore

async def lost_update():
    box = {"n": 0}
    async def add():
        value = box["n"]
        await asyncio.sleep(0)
        box["n"] = value + 1
    await asyncio.gather(add(), add())
    assert box["n"] == 2, box

def test_lost_update(interleavings):
    interleavings.explore(lost_update, strategy="random", seed=3)

def test_cancelled_waiter(interleavings):
    interleavings.explore(aio_semaphore.buggy, strategy="dfs", inject_cancel=1)
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    # each failure's token, once each (a traceback may quote the message again)
    tokens = list(
        dict.fromkeys(re.findall(r"--interleavings-replay=(pc1\.[A-Za-z0-9_-]+)", output))
    )
    assert len(tokens) == 2, output
    assert "task-2 (add)" in output
    assert "CancelledError injected" in output
    # the cancellation token replays without restating inject_cancel: the token carries it
    replayed = pytester.runpytest_subprocess(
        "test_store.py::test_cancelled_waiter", f"--interleavings-replay={tokens[1]}"
    )
    replayed.assert_outcomes(failed=1)
    assert "replayed from its token" in replayed.stdout.str()
    assert "CancelledError injected" in replayed.stdout.str()


def test_marker_explores_an_async_test_body_without_an_asyncio_plugin(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_async_marker="""
import asyncio
import pytest

@pytest.mark.interleavings(strategy="dfs", preemption_bound=2)
async def test_lost_update():
    box = {"n": 0}
    async def add():
        value = box["n"]
        await asyncio.sleep(0)
        box["n"] = value + 1
    await asyncio.gather(add(), add())
    assert box["n"] == 2, box

@pytest.mark.interleavings(strategy="dfs", preemption_bound=2)
async def test_locked_update():
    box = {"n": 0}
    lock = asyncio.Lock()
    async def add():
        async with lock:
            value = box["n"]
            await asyncio.sleep(0)
            box["n"] = value + 1
    await asyncio.gather(add(), add())
    assert box["n"] == 2, box
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*test_lost_update*--interleavings-replay=pc1.*"])
