"""A failing schedule replays exactly: 100 times out of 100, and in another process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pytest_concurrency.demo.zoo import single_flight
from pytest_concurrency.world.api import explore, replay
from pytest_concurrency.world.report import InterleavingFailure


def _failure() -> InterleavingFailure:
    with pytest.raises(InterleavingFailure) as info:
        explore(single_flight.buggy, strategy="pct", runs=500, seed=7)
    return info.value


def test_replay_reproduces_the_failure_100_times_out_of_100() -> None:
    failure = _failure()
    expected = str(failure.__cause__)
    for _ in range(100):
        with pytest.raises(InterleavingFailure) as again:
            replay(single_flight.buggy, failure.token)
        assert str(again.value.__cause__) == expected
        assert again.value.token == failure.token


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_replay_in_another_process_with_another_hash_seed(hash_seed: str) -> None:
    failure = _failure()
    code = (
        "from pytest_concurrency.demo.zoo import single_flight\n"
        "from pytest_concurrency.world.api import replay\n"
        "from pytest_concurrency.world.report import InterleavingFailure\n"
        "for _ in range(20):\n"
        "    try:\n"
        f"        replay(single_flight.buggy, {failure.token!r})\n"
        "    except InterleavingFailure as failure:\n"
        "        print('FAILED', str(failure.__cause__).splitlines()[0])\n"
        "    else:\n"
        "        print('PASSED')\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # (pytest's assertion rewriting adds lines to the in-process message: compare the first)
    first_line = str(failure.__cause__).splitlines()[0]
    assert done.stdout.splitlines() == [f"FAILED {first_line}"] * 20
