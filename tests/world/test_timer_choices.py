"""timers="choice": a pending timeout firing is a schedulable choice of its own."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pytest_concurrency.demo.zoo import timeout_race
from pytest_concurrency.world import token as tokens
from pytest_concurrency.world.api import ExploreOptions, explore, replay, run_replay
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.timers import pending_timers
from pytest_concurrency.world.token import ReplayTokenError


class _Record:
    """Just what pending_timers reads of a ThreadRecord."""

    def __init__(self, name: str, blocked: bool, deadline: float | None) -> None:
        self.name = name
        self.blocked = blocked
        self.deadline = deadline


def test_only_the_earliest_future_deadlines_are_options() -> None:
    running: Any = _Record("running", False, None)
    due: Any = _Record("due", True, 5.0)  # its deadline passed: it is enabled, not a timer
    early: Any = _Record("early", True, 10.0)
    tie: Any = _Record("tie", True, 10.0)
    late: Any = _Record("late", True, 20.0)
    forever: Any = _Record("forever", True, None)
    live = [running, due, early, tie, late, forever]
    assert pending_timers(live, [running, due]) == [early, tie]
    assert pending_timers([running, forever], [running]) == []


def _event_wait_races_set() -> None:
    event = threading.Event()
    seen: list[bool] = []
    waiter = threading.Thread(target=lambda: seen.append(event.wait(timeout=5)))
    waiter.start()
    event.set()
    waiter.join()
    assert seen == [True], "the wait timed out although the event was being set"


def test_a_timeout_fires_before_a_set_only_with_timer_choices() -> None:
    assert explore(_event_wait_races_set, strategy="dfs").exhausted
    with pytest.raises(InterleavingFailure, match="timed out") as info:
        explore(_event_wait_races_set, strategy="dfs", timers="choice")
    assert "virtual time is now +5 s" in str(info.value.trace)
    assert tokens.decode(info.value.token).timers == "choice"


def test_the_default_continuation_never_fires_a_timer() -> None:
    # dfs's first schedule keeps running threads and picks enabled ones first: autojump's
    result = explore(timeout_race.buggy, strategy="dfs", runs=1, timers="choice")
    assert result.schedules_run == 1


def _sleepers(orders: set[tuple[str, ...]]) -> None:
    order: list[str] = []
    clocks: list[float] = []
    start = time.monotonic()

    def sleeper(name: str, seconds: float) -> None:
        time.sleep(seconds)
        now = time.monotonic()
        assert now - start >= seconds, f"{name} woke {now - start} s in, before its deadline"
        clocks.append(now)
        order.append(name)

    threads = [
        threading.Thread(target=sleeper, args=(name, seconds))
        for name, seconds in (("b", 20), ("a", 10))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clocks == sorted(clocks), "virtual time went backwards"
    orders.add(tuple(order))  # only recorded, never read by a run: runs stay deterministic


def test_time_never_goes_backwards_and_no_timer_fires_early() -> None:
    autojump: set[tuple[str, ...]] = set()
    assert explore(lambda: _sleepers(autojump), strategy="dfs").exhausted
    assert autojump == {("a", "b")}
    choice: set[tuple[str, ...]] = set()
    assert explore(lambda: _sleepers(choice), strategy="dfs", timers="choice").exhausted
    # a sleeper whose timeout fired may still run after a later one, as a slow thread does
    assert choice == {("a", "b"), ("b", "a")}


def test_timer_tokens_replay_exactly_and_need_the_same_timers() -> None:
    with pytest.raises(InterleavingFailure) as info:
        explore(timeout_race.buggy, strategy="random", seed=2, runs=50, timers="choice")
    token = info.value.token
    for _ in range(5):
        with pytest.raises(InterleavingFailure) as again:  # timers= comes from the token
            replay(timeout_race.buggy, token)
        assert again.value.token == token
    with pytest.raises(ReplayTokenError, match="timers='choice', not 'autojump'"):
        replay(timeout_race.buggy, token, timers="autojump")
    with pytest.raises(ReplayTokenError, match="timers='choice'"):
        run_replay(timeout_race.buggy, token, ExploreOptions.create(granularity="sync"))
