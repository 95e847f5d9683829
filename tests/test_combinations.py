"""Every pair of features either works together or is refused clearly: the combination table.

Each cell is one pytest param whose id names the combination (``outer-x-inner``:
the first feature is installed around the second) and whose check asserts the
one expected behaviour:

* **found** -- a race in the combination is found (an ``InterleavingFailure``
  whose cause is the race's own error);
* **proven** -- the correct twin passes, with dfs exhausting its schedules
  where the scenario is small enough;
* **refused** -- the run fails with a message naming what it cannot control.

Nothing in the table may pass silently.
"""

from __future__ import annotations

import _thread
import asyncio
import inspect
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest

from pytest_concurrency import (
    Deadlock,
    FakeClock,
    GatedEncoder,
    GatedFake,
    InterleavingFailure,
    UncontrolledBlock,
    checkpoint,
    explore,
    spawn,
)
from pytest_concurrency.leaks import LeakChecker

START = datetime(2030, 1, 1, tzinfo=timezone.utc)
START_WALL = START.timestamp()
_real_thread_start = threading.Thread.start  # captured before any run, as some code does


def _found(scenario: Callable[[], object], cause: type[BaseException], match: str) -> None:
    """The exploration finds a failure whose cause is ``cause`` with ``match`` in it."""
    with pytest.raises(InterleavingFailure) as caught:
        explore(scenario, strategy="dfs", runs=200)
    assert isinstance(caught.value.__cause__, cause), caught.value
    assert match in str(caught.value.__cause__)


def _proven(scenario: Callable[[], object]) -> None:
    """dfs runs every schedule (to its default preemption bound) and none fails."""
    result = explore(scenario, strategy="dfs")
    assert result.exhausted
    assert result.schedules_run > 1


def _refused(scenario: Callable[[], object], error: type[InterleavingFailure], *parts: str) -> None:
    with pytest.raises(error) as caught:
        explore(scenario, runs=3)
    first = str(caught.value).splitlines()[0]
    for part in parts:
        assert part in first, first


def _lost_update() -> None:
    """Two threads increment one counter with a read-then-write: an update can be lost."""
    box = [0]

    def inc() -> None:
        value = box[0]
        checkpoint("between read and write")
        box[0] = value + 1

    threads = [threading.Thread(target=inc) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert box[0] == 2, "lost update"


# -- fake clock and explorer ------------------------------------------------------------------


def fake_clock_x_explore() -> None:
    """found: a race under a fake clock is found, and every run starts at the clock's time."""
    seen: list[tuple[float, float, float]] = []

    def scenario() -> None:
        wall, now = time.time(), datetime.now(timezone.utc).timestamp()
        time.sleep(60)
        seen.append((wall, now, datetime.now(timezone.utc).timestamp() - now))
        _lost_update()

    with FakeClock(start=START):
        _found(scenario, AssertionError, "lost update")
    assert len(seen) > 1
    assert set(seen) == {(START_WALL, START_WALL, 60.0)}


def _measured(clock: Callable[[], float] = time.monotonic) -> float:
    """A function that captured ``time.monotonic`` as a default, as injectable clocks do."""
    began = clock()
    time.sleep(10)
    return clock() - began


def fake_clock_x_explore_captured_clock() -> None:
    """proven: a clock captured before the fake clock installed follows the run's time."""
    elapsed: list[float] = []

    with FakeClock():
        explore(lambda: elapsed.append(_measured()), runs=1)
    assert elapsed == [10.0]


def explore_x_fake_clock() -> None:
    """found: a FakeClock made in the scenario leaves its threads controlled: the race is found."""

    def scenario() -> None:
        with FakeClock():
            _lost_update()

    _found(scenario, AssertionError, "lost update")


def explore_x_fake_clock_advance() -> None:
    """proven: the scenario's FakeClock drives the run's clock; advance() wakes a sleeper."""
    results: set[tuple[float, ...]] = set()

    def scenario() -> None:
        with FakeClock(start=START) as clock:
            began = time.monotonic()
            woke: list[float] = []
            sleeper = threading.Thread(target=lambda: (time.sleep(10), woke.append(time.time())))
            sleeper.start()
            assert clock.wait_for_sleepers(1, timeout=5)
            assert [wait.deadline - began for wait in clock.pending] == [10.0]
            assert clock.advance(10) == began + 10
            sleeper.join()
            results.add((clock.time(), woke[0], datetime.now(timezone.utc).timestamp()))

    _proven(scenario)
    assert results == {(START_WALL + 10, START_WALL + 10, START_WALL + 10)}


# -- gated fakes and explorer -----------------------------------------------------------------


def explore_x_gated_fake() -> None:
    """proven: callers wait at the gate as controlled threads; the scenario opens it."""

    def scenario() -> None:
        fake = GatedFake(return_value=7, name="loader")
        got: list[int] = []
        callers = [threading.Thread(target=lambda: got.append(fake())) for _ in range(2)]
        for caller in callers:
            caller.start()
        assert fake.wait_for_callers(2, timeout=5)
        fake.release(2)
        for caller in callers:
            caller.join()
        assert got == [7, 7]
        assert fake.max_in_flight == 2

    _proven(scenario)


def explore_x_gated_fake_never_opened() -> None:
    """refused: a gate nobody in the scenario opens is a deadlock naming it, not a hang."""

    def scenario() -> None:
        fake = GatedFake(return_value=1, name="loader")
        caller = threading.Thread(target=fake)
        caller.start()
        caller.join()

    _refused(scenario, Deadlock, "GatedFake 'loader'", ".open()")


def gated_fake_made_outside_x_explore() -> None:
    """refused: a fake made before the run (a fixture's) gates the run's callers too.

    Its gate is never opened: each run ends in a deadlock naming it, and no
    caller is left registered at the gate afterwards.
    """
    fake = GatedFake(return_value=1, name="fixture-made")

    def scenario() -> None:
        spawn(fake).join()

    _refused(scenario, Deadlock, "GatedFake 'fixture-made'")
    assert fake.blocked == 0
    assert fake.in_flight == 0


class _Cache:
    """A per-key vector cache; ``single_flight=False`` is the stampede bug of a cold cache."""

    def __init__(self, encoder: GatedEncoder, *, single_flight: bool) -> None:
        self._encoder = encoder
        self._single_flight = single_flight
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._vectors: dict[str, list[float]] = {}

    def get(self, key: str) -> list[float]:
        if key in self._vectors:
            return self._vectors[key]
        if not self._single_flight:
            self._vectors[key] = self._encoder.encode([key])[0]
            return self._vectors[key]
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._vectors:  # double-checked: a waiter gets the builder's value
                self._vectors[key] = self._encoder.encode([key])[0]
        return self._vectors[key]


def _cold_stampede(single_flight: bool) -> Callable[[], None]:
    def scenario() -> None:
        encoder = GatedEncoder(dim=4, name="vocab")
        cache = _Cache(encoder, single_flight=single_flight)
        callers = [threading.Thread(target=cache.get, args=("cat",)) for _ in range(2)]
        for caller in callers:
            caller.start()
        assert encoder.wait_for_callers(1, timeout=5)
        encoder.open()
        for caller in callers:
            caller.join()
        assert encoder.encode_calls == 1, f"encoded {encoder.encode_calls} times"

    return scenario


def explore_x_gated_encoder() -> None:
    """found: the cold-cache stampede (no per-key single flight) with a GatedEncoder."""
    _found(_cold_stampede(single_flight=False), AssertionError, "encoded 2 times")


def explore_x_gated_encoder_fixed() -> None:
    """proven: the single-flight twin passes dfs to exhaustion."""
    _proven(_cold_stampede(single_flight=True))


def asyncio_x_gated_fake_acall() -> None:
    """found: an async cache without single flight awaits a gated fake's acall twice."""

    async def scenario() -> None:
        fake = GatedFake(return_value=1, name="fetch")
        cache: dict[str, Any] = {}

        async def get() -> Any:
            if "k" not in cache:
                cache["k"] = await fake.acall()
            return cache["k"]

        tasks = [asyncio.ensure_future(get()) for _ in range(2)]
        await asyncio.sleep(0)
        fake.open()
        await asyncio.gather(*tasks)
        assert fake.calls == 1, f"fetched {fake.calls} times"

    _found(scenario, AssertionError, "fetched 2 times")


# -- leaks and explorer -----------------------------------------------------------------------


def leaks_x_explore() -> None:
    """proven: an exploration leaves nothing behind (any leak kind) for a LeakChecker around it."""
    with LeakChecker(grace=0.5) as checker:
        explore(_lost_update_fixed, strategy="dfs")
    assert checker.report is not None
    assert not checker.report, checker.report.format()


def _lost_update_fixed() -> None:
    box = [0]
    lock = threading.Lock()

    def inc() -> None:
        with lock:
            value = box[0]
            checkpoint("between read and write")
            box[0] = value + 1

    threads = [threading.Thread(target=inc) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert box[0] == 2


def explore_x_leaks() -> None:
    """found: a LeakChecker inside the scenario reports the scenario's leaked thread."""

    def scenario() -> None:
        release = threading.Event()
        with LeakChecker("threads", grace=0.1) as checker:
            threading.Thread(target=release.wait, name="leaky").start()
        release.set()
        assert checker.report is not None
        assert not checker.report, checker.report.format()

    _found(scenario, AssertionError, "thread 'leaky'")


# -- escapes: refused, naming what escaped ----------------------------------------------------


def escape_start_new_thread() -> None:
    """refused: an OS thread started with ``_thread.start_new_thread``."""

    def scenario() -> None:
        _thread.start_new_thread(print, ())

    _refused(scenario, UncontrolledBlock, "uncontrolled thread", "_thread.start_new_thread(print)")


def escape_captured_start() -> None:
    """refused: a thread started with a ``Thread.start`` captured before the run."""

    def scenario() -> None:
        thread = threading.Thread(target=print, name="sneaky")
        _real_thread_start(thread)
        thread.join()

    _refused(scenario, UncontrolledBlock, "uncontrolled thread", "'sneaky'")


class _RawThread(threading.Thread):
    """A subclass whose ``start`` bypasses ``Thread.start`` altogether."""

    def start(self) -> None:
        _thread.start_new_thread(self.run, ())


def escape_subclass_bypassing_start() -> None:
    """refused: a Thread subclass overriding ``start`` without calling the run's one."""

    def scenario() -> None:
        _RawThread(target=print, name="raw").start()

    _refused(scenario, UncontrolledBlock, "uncontrolled thread", "of thread 'raw'")


def escape_executor_made_before_the_run() -> None:
    """refused: work submitted to an executor whose workers exist outside the run."""
    with ThreadPoolExecutor(1, thread_name_prefix="outside") as pool:
        pool.submit(print).result(timeout=5)  # a real worker is alive and waiting

        def scenario() -> None:
            pool.submit(print).result(timeout=5)

        _refused(scenario, UncontrolledBlock, "uncontrolled executor", "'outside'")


def escape_run_in_executor_made_before_the_run() -> None:
    """refused: ``loop.run_in_executor`` with an executor made outside the run."""
    with ThreadPoolExecutor(1, thread_name_prefix="outside") as pool:

        async def scenario() -> None:
            await asyncio.get_running_loop().run_in_executor(pool, print)

        _refused(scenario, UncontrolledBlock, "uncontrolled executor", "'outside'")


def _run_briefly(loop: asyncio.AbstractEventLoop) -> None:
    """Run ``loop`` until an already-done future: it starts running, then stops at once."""
    try:
        done = loop.create_future()
        done.set_result(None)
        loop.run_until_complete(done)
    finally:
        loop.close()


def escape_hand_made_loop() -> None:
    """refused: a sync scenario running its own ``SelectorEventLoop``."""

    def scenario() -> None:
        _run_briefly(asyncio.SelectorEventLoop())

    _refused(scenario, UncontrolledBlock, "uncontrolled event loop", "SelectorEventLoop")


class _OwnLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """A custom policy whose loops are not made by the default policy (like uvloop's)."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.SelectorEventLoop()


def escape_custom_loop_policy() -> None:
    """refused: a loop from a custom event loop policy (as uvloop's is)."""

    def scenario() -> None:
        asyncio.set_event_loop_policy(_OwnLoopPolicy())
        try:
            _run_briefly(asyncio.new_event_loop())
        finally:
            asyncio.set_event_loop_policy(None)

    _refused(scenario, UncontrolledBlock, "uncontrolled event loop", "SelectorEventLoop")


class _OutsideLoop:
    """An event loop running in a thread of its own, started before the run."""

    def __enter__(self) -> asyncio.AbstractEventLoop:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="outside-loop")
        self.thread.start()
        return self.loop

    def __exit__(self, *exc_info: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def escape_run_coroutine_threadsafe() -> None:
    """refused: a coroutine sent to a loop outside the run (its task would run there)."""

    async def nothing() -> None:
        return None

    with _OutsideLoop() as outside:

        def scenario() -> None:
            coro = nothing()
            try:
                asyncio.run_coroutine_threadsafe(coro, outside).result(timeout=5)
            finally:
                coro.close()

        _refused(scenario, UncontrolledBlock, "asyncio.run_coroutine_threadsafe()")


def escape_call_soon_threadsafe() -> None:
    """refused: a callback scheduled on a loop outside the run, where it would race unexplored."""
    with _OutsideLoop() as outside:

        def scenario() -> None:
            outside.call_soon_threadsafe(print)

        _refused(scenario, UncontrolledBlock, "loop.call_soon_threadsafe()", "SelectorEventLoop")


# -- through pytest: markers, fixtures and contract classes ----------------------------------


def _inner_run(pytester: pytest.Pytester) -> pytest.RunResult:
    """An inner pytest run with this plugin, without third-party plugins it does not need."""
    return pytester.runpytest(
        "-p",
        "pytest_concurrency",
        "-p",
        "no:randomly",
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:cacheprovider",
    )


def no_leaks_marker_x_explore(pytester: pytest.Pytester) -> None:
    """proven: ``@pytest.mark.no_leaks`` around an exploring test: one pass, no leak."""
    pytester.makepyfile(
        """
        import threading
        import pytest
        from pytest_concurrency import explore

        def scenario():
            lock = threading.Lock()

            def work():
                with lock:
                    pass

            threads = [threading.Thread(target=work) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        @pytest.mark.no_leaks("threads")
        def test_explores():
            assert explore(scenario, strategy="dfs").exhausted
        """
    )
    result = _inner_run(pytester)
    result.assert_outcomes(passed=1)


def contract_x_fake_clock_fixture(pytester: pytest.Pytester) -> None:
    """proven: a contract class whose tests run under the ``fake_clock`` fixture passes."""
    pytester.makepyfile(
        """
        import pytest
        from pytest_concurrency.demo.contracts_demo import ReferenceRunGuard

        class TestRunGuardUnderFakeClock(ReferenceRunGuard):
            @pytest.fixture(autouse=True)
            def _virtual_time(self, fake_clock):
                yield fake_clock
        """
    )
    result = _inner_run(pytester)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 0 and set(outcomes) == {"passed"}, outcomes


CELLS = [
    pytest.param(fake_clock_x_explore, id="fake_clock-x-explore"),
    pytest.param(fake_clock_x_explore_captured_clock, id="fake_clock-x-explore-captured_clock"),
    pytest.param(explore_x_fake_clock, id="explore-x-fake_clock"),
    pytest.param(explore_x_fake_clock_advance, id="explore-x-fake_clock-advance"),
    pytest.param(explore_x_gated_fake, id="explore-x-gated_fake"),
    pytest.param(explore_x_gated_fake_never_opened, id="explore-x-gated_fake-never_opened"),
    pytest.param(gated_fake_made_outside_x_explore, id="gated_fake-x-explore"),
    pytest.param(explore_x_gated_encoder, id="explore-x-gated_encoder"),
    pytest.param(explore_x_gated_encoder_fixed, id="explore-x-gated_encoder-fixed"),
    pytest.param(asyncio_x_gated_fake_acall, id="explore_asyncio-x-gated_fake_acall"),
    pytest.param(leaks_x_explore, id="leaks-x-explore"),
    pytest.param(explore_x_leaks, id="explore-x-leaks"),
    pytest.param(no_leaks_marker_x_explore, id="no_leaks_marker-x-explore"),
    pytest.param(contract_x_fake_clock_fixture, id="fake_clock_fixture-x-contract"),
    pytest.param(escape_start_new_thread, id="explore-x-escaping_thread-start_new_thread"),
    pytest.param(escape_captured_start, id="explore-x-escaping_thread-captured_start"),
    pytest.param(escape_subclass_bypassing_start, id="explore-x-escaping_thread-subclass"),
    pytest.param(escape_executor_made_before_the_run, id="explore-x-escaping_executor"),
    pytest.param(
        escape_run_in_executor_made_before_the_run, id="explore_asyncio-x-escaping_executor"
    ),
    pytest.param(escape_hand_made_loop, id="explore-x-escaping_loop-hand_made"),
    pytest.param(escape_custom_loop_policy, id="explore-x-escaping_loop-policy"),
    pytest.param(escape_run_coroutine_threadsafe, id="explore-x-escaping_task-outside_loop"),
    pytest.param(escape_call_soon_threadsafe, id="explore-x-escaping_callback-outside_loop"),
]


def _needs_pytester(cell: Callable[..., None]) -> bool:
    return "pytester" in inspect.signature(cell).parameters


@pytest.mark.parametrize("cell", CELLS)
def test_combination(cell: Callable[..., None], request: pytest.FixtureRequest) -> None:
    if _needs_pytester(cell):
        cell(request.getfixturevalue("pytester"))
    else:
        cell()
