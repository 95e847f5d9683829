"""asyncio on the fake clock: timers jump instead of sleeping, I/O still wakes the loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency.fake_clock import FakeClock


def test_asyncio_sleep_480_resolves_instantly(fake_clock: FakeClock) -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(480)
        return loop.time() - start

    real_start = _realtime.monotonic()
    assert asyncio.run(main()) == pytest.approx(480)
    assert _realtime.monotonic() - real_start < 1.0


def test_wait_for_timeout_fires_instantly(fake_clock: FakeClock) -> None:
    async def main() -> float:
        start = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(3600), timeout=600)
        return time.monotonic() - start

    real_start = _realtime.monotonic()
    assert asyncio.run(main()) == pytest.approx(600)
    assert _realtime.monotonic() - real_start < 1.0


def test_loop_time_is_the_virtual_monotonic(fake_clock: FakeClock) -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        return loop.time(), fake_clock.monotonic()

    loop_time, clock_time = asyncio.run(main())
    assert loop_time == clock_time


def test_timers_fire_in_order_at_their_virtual_times(fake_clock: FakeClock) -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        fired: list[tuple[str, float]] = []

        async def after(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            fired.append((name, round(loop.time() - start, 6)))

        await asyncio.gather(after("c", 300), after("a", 10), after("b", 60))
        return fired

    assert asyncio.run(main()) == [("a", 10), ("b", 60), ("c", 300)]


def test_executor_work_and_virtual_sleeps_mix(fake_clock: FakeClock) -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()

        # the default executor's thread is started by the loop's thread: in scope
        def nap() -> float:
            time.sleep(50)
            return time.monotonic()

        slept = await loop.run_in_executor(None, nap)
        return slept - start, loop.time() - start

    worker_elapsed, loop_elapsed = asyncio.run(main())
    assert worker_elapsed == pytest.approx(50)
    assert loop_elapsed == pytest.approx(50)


def test_io_from_a_worker_wins_over_a_pending_timeout(fake_clock: FakeClock) -> None:
    # the worker hands its result to the loop (call_soon_threadsafe writes the
    # loop's self-pipe) and parks; time must not jump to the 10 s timeout first
    async def main() -> str:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(None, lambda: "done"), timeout=10)

    for _ in range(20):
        assert asyncio.run(main()) == "done"


def test_loop_in_a_worker_thread_waits_for_advance(fake_clock: FakeClock) -> None:
    results: list[float] = []

    async def sleeper() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(30)
        results.append(loop.time() - start)

    thread = threading.Thread(target=asyncio.run, args=(sleeper(),), daemon=True)
    thread.start()
    assert fake_clock.wait_for_sleepers(1, timeout=5)
    assert [p.kind for p in fake_clock.pending] == ["asyncio event loop"]
    assert results == []
    fake_clock.advance(30)
    thread.join(5)
    assert not thread.is_alive()
    assert results == [pytest.approx(30)]


def test_loops_created_before_install_follow_the_clock() -> None:
    loop = asyncio.new_event_loop()
    try:
        with FakeClock(datetime=False) as clock:
            start = clock.monotonic()
            real_start = _realtime.monotonic()
            loop.run_until_complete(asyncio.sleep(120))
            assert clock.monotonic() == pytest.approx(start + 120)
            assert _realtime.monotonic() - real_start < 1.0
        # after uninstall the loop's selector is plain again: a real short sleep
        real_start = _realtime.monotonic()
        loop.run_until_complete(asyncio.sleep(0.01))
        assert _realtime.monotonic() - real_start >= 0.01
    finally:
        loop.close()


def test_selects_from_real_time_modules_keep_real_timeouts(fake_clock: FakeClock) -> None:
    # subprocess waits on a real child process: its selector must not jump
    import subprocess
    import sys

    real_start = _realtime.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(
            [sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.3, capture_output=True
        )
    assert _realtime.monotonic() - real_start >= 0.3
