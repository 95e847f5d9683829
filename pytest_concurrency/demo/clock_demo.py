"""Demo: a deferred deleter's waits, run on virtual time.

A deferred deleter parked a pool thread in ``time.sleep(480)`` per pending
delete; its fix keeps one janitor thread on a due-time heap, waiting with
``Condition.wait(timeout)``. Testing either for real means waiting minutes.
Under :class:`~pytest_concurrency.FakeClock` the waits run on virtual time:

- the old janitor's ``sleep(480)``: nothing happens at 479 s, the delete
  happens at 480 s, in milliseconds of real time;
- the new janitor's ``Condition.wait(30)``, notified early (an earlier item
  arrived): it wakes at once, with ``True``, and virtual time has not moved;
- an ``asyncio.wait_for`` with a 600 s timeout, in ``asyncio.run`` on the
  demo's own thread: autojump fires the timeout at once.
"""

from __future__ import annotations

import asyncio
import threading
import time

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.fake_clock import FakeClock

TITLE = "Fake clock: time that waits for you"

_TIMEOUT = 2.0  # real seconds; each wait below normally ends in microseconds
_REAL_BUDGET = 1.0  # what "instantly" means here, in real seconds


def _sleeping_janitor() -> Outcome:
    deleted: list[str] = []
    started = _realtime.perf_counter()
    with FakeClock(datetime=False) as clock:

        def janitor() -> None:  # the deleter before the fix: one parked thread per delete
            time.sleep(480)
            deleted.append("sync/chunk-0001.wav")

        thread = threading.Thread(target=janitor, name="deleter", daemon=True)
        thread.start()
        parked = clock.wait_for_sleepers(1, timeout=_TIMEOUT)
        clock.advance(479)
        early = list(deleted)
        clock.advance(1)
        thread.join(_TIMEOUT)
    seconds = _realtime.perf_counter() - started
    ok = parked and early == [] and deleted == ["sync/chunk-0001.wav"] and seconds < _REAL_BUDGET
    return Outcome(
        name="janitor thread in time.sleep(480), then delete",
        expected="not deleted at 479 s; deleted at 480 s; < 1 s real",
        observed=f"at 479 s: {len(early)} deleted; at 480 s: {len(deleted)} deleted",
        ok=ok,
        seconds=seconds,
    )


def _condition_notified_early() -> Outcome:
    results: list[bool] = []
    started = _realtime.perf_counter()
    with FakeClock(datetime=False) as clock:
        cond = threading.Condition()

        def janitor() -> None:  # the fixed janitor waits for the next due item
            with cond:
                results.append(cond.wait(30))

        thread = threading.Thread(target=janitor, name="janitor", daemon=True)
        thread.start()
        parked = clock.wait_for_sleepers(1, timeout=_TIMEOUT)
        before = clock.monotonic()
        with cond:  # an earlier-due item arrives: schedule() notifies
            cond.notify()
        thread.join(_TIMEOUT)
        moved = clock.monotonic() - before
    seconds = _realtime.perf_counter() - started
    ok = parked and results == [True] and moved == 0 and seconds < _REAL_BUDGET
    return Outcome(
        name="Condition.wait(30) notified early",
        expected="wakes at once with True; 0 virtual s",
        observed=f"returned {results[0] if results else 'nothing'}; {moved:g} virtual s",
        ok=ok,
        seconds=seconds,
    )


def _asyncio_timeout() -> Outcome:
    async def slow_call() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            await asyncio.wait_for(asyncio.sleep(3600), timeout=600)
        except asyncio.TimeoutError:
            return loop.time() - start
        return -1.0

    started = _realtime.perf_counter()
    with FakeClock(datetime=False):
        virtual = asyncio.run(slow_call())
    seconds = _realtime.perf_counter() - started
    ok = abs(virtual - 600) < 1e-6 and seconds < _REAL_BUDGET
    return Outcome(
        name="asyncio.wait_for(..., timeout=600)",
        expected="TimeoutError after 600 virtual s; < 1 s real",
        observed=f"TimeoutError after {virtual:g} virtual s" if virtual >= 0 else "no timeout",
        ok=ok,
        seconds=seconds,
    )


def run() -> list[Outcome]:
    return [_sleeping_janitor(), _condition_notified_early(), _asyncio_timeout()]
