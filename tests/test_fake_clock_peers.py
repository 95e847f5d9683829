"""The fake clock and time-machine: never two clocks telling different times."""

from __future__ import annotations

import time

import pytest

from pytest_concurrency import FakeClock

time_machine = pytest.importorskip("time_machine")


@pytest.mark.parametrize("fake_datetime", [True, False], ids=["datetime", "no_datetime"])
def test_a_travel_refuses_to_start_inside_a_fake_clock(fake_datetime: bool) -> None:
    original_start = time_machine.travel.start
    with FakeClock(start=1_000.0, datetime=fake_datetime):
        refused = pytest.raises(RuntimeError, match="cannot start while a FakeClock is installed")
        with refused, time_machine.travel(0):
            pass
        assert time.time() == 1_000.0  # the fake clock still rules
    assert time_machine.travel.start is original_start  # restored with the clock
    with time_machine.travel(0, tick=False):
        assert time.time() == 0.0  # and time-machine works again afterwards


def test_a_fake_clock_refuses_to_start_inside_a_travel() -> None:
    with time_machine.travel(0, tick=False):
        clock = FakeClock()
        with pytest.raises(RuntimeError, match="cannot start while time-machine is travelling"):
            clock.install()
        assert not clock.installed
        assert time.time() == 0.0  # nothing of the fake clock was left behind
    with FakeClock(start=5.0):
        assert time.time() == 5.0
