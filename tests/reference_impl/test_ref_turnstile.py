"""OrderedTurnstile and AsyncOrderedTurnstile (seed 002a)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from ref_helpers import TIMEOUT, Spawned, WaitObserver

from reference_impl import AsyncOrderedTurnstile, OrderedTurnstile

SpawnFn = Callable[..., Spawned]
KEYS = ["t1", "t2", "t3", "t4"]


def test_the_serialised_step_runs_in_key_order_whatever_order_threads_arrive(
    spawn: SpawnFn, observe_events: WaitObserver
) -> None:
    turnstile = OrderedTurnstile(KEYS)
    steps: list[str] = []

    def segment(key: str) -> bool:
        with turnstile.turn(key) as in_order:
            steps.append(key)
        return in_order

    # STT finished newest-first: the late segments are parked before t1 arrives
    late = [spawn(segment, key) for key in reversed(KEYS[1:])]
    observe_events.wait_for_waiters(3)
    first = spawn(segment, "t1")
    assert [t.result() for t in [first, *late]] == [True] * 4
    assert steps == KEYS


def test_an_exception_inside_the_turn_passes_the_turn_on(spawn: SpawnFn) -> None:
    turnstile = OrderedTurnstile(KEYS[:2])
    follower = spawn(turnstile.wait_turn, "t2")
    with pytest.raises(ZeroDivisionError), turnstile.turn("t1"):
        raise ZeroDivisionError
    assert follower.result() is True


def test_an_early_return_inside_the_turn_passes_the_turn_on(spawn: SpawnFn) -> None:
    turnstile = OrderedTurnstile(KEYS[:2])

    def silent_segment() -> str:
        with turnstile.turn("t1"):
            return "silence"  # the seed's early-return path

    follower = spawn(turnstile.wait_turn, "t2")
    assert silent_segment() == "silence"
    assert follower.result() is True


def test_a_key_completed_without_waiting_does_not_stall_the_next(spawn: SpawnFn) -> None:
    turnstile = OrderedTurnstile(KEYS[:3])
    turnstile.complete("t2")  # a silent segment that never took its turn
    t3 = spawn(turnstile.wait_turn, "t3")
    turnstile.complete("t1")
    assert t3.result() is True


def test_fail_open_after_the_timeout_and_a_late_complete_still_advances(
    spawn: SpawnFn,
) -> None:
    turnstile = OrderedTurnstile(KEYS[:3])
    assert turnstile.wait_turn("t2", timeout=0.0) is False  # t1 is stuck: proceed anyway
    turnstile.complete("t2")
    t3 = spawn(turnstile.wait_turn, "t3")
    turnstile.complete("t1")  # t1 finally completes: the turn skips the done t2
    assert t3.result() is True


def test_the_constructor_timeout_is_the_default(spawn: SpawnFn) -> None:
    turnstile = OrderedTurnstile(KEYS[:2], timeout=0.01)
    with turnstile.turn("t2") as in_order:
        assert in_order is False
    assert turnstile.wait_turn("t1", timeout=0.0) is True


def test_a_blocked_waiter_wakes_when_the_previous_key_completes(
    spawn: SpawnFn, observe_events: WaitObserver
) -> None:
    turnstile = OrderedTurnstile(KEYS[:2])
    t2 = spawn(turnstile.wait_turn, "t2")
    observe_events.wait_for_waiters(1)
    turnstile.complete("t1")
    assert t2.result() is True


def test_complete_is_idempotent_and_waiting_after_completion_returns_at_once() -> None:
    turnstile = OrderedTurnstile(KEYS[:2])
    turnstile.complete("t1")
    turnstile.complete("t1")
    assert turnstile.wait_turn("t2", timeout=0.0) is True
    assert turnstile.wait_turn("t1", timeout=0.0) is True
    turnstile.complete("t2")
    turnstile.complete("t2")


def test_only_the_released_waiter_wakes(spawn: SpawnFn, observe_events: WaitObserver) -> None:
    turnstile = OrderedTurnstile(KEYS)
    waiters = [spawn(turnstile.wait_turn, key) for key in KEYS[1:]]
    observe_events.wait_for_waiters(3)
    turnstile.complete("t1")
    assert waiters[0].result() is True
    assert turnstile.wait_turn("t4", timeout=0.0) is False  # t2 and t3 still pending
    turnstile.complete("t2")
    turnstile.complete("t3")
    assert [w.result() for w in waiters[1:]] == [True, True]


def test_turnstile_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="keys must not repeat a key, got 't1' twice"):
        OrderedTurnstile(["t1", "t2", "t1"])
    with pytest.raises(TypeError, match="every key in keys must be hashable"):
        OrderedTurnstile([["t1"]])  # type: ignore[type-var]
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds >= 0"):
        OrderedTurnstile(KEYS, timeout=-1)
    with pytest.raises(TypeError, match="timeout must be a number"):
        OrderedTurnstile(KEYS, timeout="10")  # type: ignore[arg-type]
    turnstile = OrderedTurnstile(KEYS[:2])
    with pytest.raises(ValueError, match="key 'zz' is not one of the turnstile's keys"):
        turnstile.wait_turn("zz")
    with pytest.raises(ValueError, match="key 'zz'"):
        turnstile.complete("zz")
    with pytest.raises(ValueError, match="timeout must be"):
        turnstile.wait_turn("t1", timeout=float("nan"))
    with pytest.raises(ValueError, match="timeout must be"), turnstile.turn("t1", timeout=-5):
        pass
    assert turnstile.wait_turn("t2", timeout=0.0) is False  # the bad turn() completed nothing


def test_an_empty_turnstile_is_valid_but_knows_no_key() -> None:
    with pytest.raises(ValueError, match="not one of"):
        OrderedTurnstile[str]([]).wait_turn("t1")


# --- asyncio ------------------------------------------------------------------------------


def run(scenario: Callable[[], object]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), TIMEOUT)  # type: ignore[arg-type]

    asyncio.run(bounded())


def test_async_order_early_return_and_exception_release_the_turn() -> None:
    async def scenario() -> None:
        turnstile = AsyncOrderedTurnstile(KEYS)
        steps: list[str] = []

        async def segment(key: str) -> None:
            async with turnstile.turn(key):
                if key == "t2":
                    return  # silence
                if key == "t3":
                    raise LookupError(key)
                steps.append(key)

        results = await asyncio.gather(
            *(segment(key) for key in reversed(KEYS)), return_exceptions=True
        )
        assert steps == ["t1", "t4"]
        assert isinstance(results[1], LookupError)

    run(scenario)


def test_async_fail_open_and_default_timeout() -> None:
    async def scenario() -> None:
        turnstile = AsyncOrderedTurnstile(KEYS[:3], timeout=0.01)
        assert await turnstile.wait_turn("t2") is False
        turnstile.complete("t2")
        t3 = asyncio.create_task(turnstile.wait_turn("t3", timeout=TIMEOUT))
        await asyncio.sleep(0)
        turnstile.complete("t1")
        assert await t3 is True

    run(scenario)


def test_async_cancellation_inside_turn_completes_the_key() -> None:
    async def scenario() -> None:
        turnstile = AsyncOrderedTurnstile(KEYS[:3])
        parked = asyncio.Event()

        async def cancelled_segment() -> None:
            async with turnstile.turn("t2"):
                parked.set()
                await asyncio.Event().wait()  # cancelled here

        turnstile.complete("t1")
        task = asyncio.create_task(cancelled_segment())
        await parked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await turnstile.wait_turn("t3", timeout=0.0) is True

    run(scenario)


def test_async_turnstile_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="keys must not repeat"):
        AsyncOrderedTurnstile(["a", "a"])

    async def scenario() -> None:
        turnstile = AsyncOrderedTurnstile(["a"])
        with pytest.raises(ValueError, match="key 'b' is not one of"):
            await turnstile.wait_turn("b")
        with pytest.raises(ValueError, match="timeout must be"):
            await turnstile.wait_turn("a", timeout=-1)

    run(scenario)


def test_threads_waiting_on_a_turn_never_outlive_their_timeout(spawn: SpawnFn) -> None:
    """Fail-open is bounded in real time even if nobody ever completes."""
    turnstile = OrderedTurnstile(KEYS[:2], timeout=0.05)
    done = threading.Event()

    def wait() -> bool:
        result = turnstile.wait_turn("t2")
        done.set()
        return result

    waiter = spawn(wait)
    assert done.wait(TIMEOUT)
    assert waiter.result() is False
