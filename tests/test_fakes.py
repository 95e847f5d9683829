"""GatedFake, GatedEncoder, their one Gate, and the teardown tracker behind the fixtures.

Every wait here is bounded. Callers run in real threads (or tasks); tests
synchronise on the gate's own signals (``wait_for_callers``, ``wait_idle``) or on
queues and events with timeouts, never on sleeps. The few deliberately short
``block_timeout`` values test the timeout itself.
"""

from __future__ import annotations

import asyncio
import math
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import DEFAULT, call

import pytest

from pytest_concurrency.demo import fakes_demo
from pytest_concurrency.fakes import FakeTracker, Gate, GatedEncoder, GatedFake, text_vector

WAIT = 5.0  # generous bound for things that happen in microseconds
SHORT = 0.05  # for waits that are meant to expire

THIS_FILE = Path(__file__)


def line_of(marker: str) -> int:
    """The line number of the one line in this file that ends with ``# <marker>``."""
    lines = THIS_FILE.read_text().splitlines()
    found = [no for no, text in enumerate(lines, 1) if text.rstrip().endswith(f"# {marker}")]
    assert len(found) == 1, marker
    return found[0]


class Callers:
    """Threads that call something and put each outcome on a queue; always joined."""

    def __init__(self) -> None:
        self.outcomes: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.threads: list[threading.Thread] = []

    def start(self, fn: Callable[..., Any], *args: Any, name: str | None = None) -> None:
        def run() -> None:
            try:
                self.outcomes.put(("returned", fn(*args)))
            except BaseException as error:
                self.outcomes.put(("raised", error))

        thread = threading.Thread(target=run, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def next(self) -> tuple[str, Any]:
        return self.outcomes.get(timeout=WAIT)

    def results(self, n: int) -> list[Any]:
        outcomes = [self.next() for _ in range(n)]
        assert all(kind == "returned" for kind, _ in outcomes), outcomes
        return [value for _, value in outcomes]

    def join(self) -> None:
        for thread in self.threads:
            thread.join(WAIT)
        assert not any(thread.is_alive() for thread in self.threads)


@pytest.fixture
def callers() -> Iterator[Callers]:
    pool = Callers()
    yield pool
    pool.join()


@pytest.fixture
def fake() -> Iterator[GatedFake]:
    """A closed fake that is opened at the end, so no test can strand a thread."""
    made = GatedFake(return_value="done", name="loader")
    yield made
    made.open()


# -- the gate: blocking, open, close, release ------------------------------------


def test_closed_gate_holds_callers_until_opened(fake: GatedFake, callers: Callers) -> None:
    callers.start(fake, 1)
    callers.start(fake, 2)
    assert fake.wait_for_callers(2, timeout=WAIT)
    assert fake.blocked == 2
    assert callers.outcomes.empty()
    fake.open()
    assert callers.results(2) == ["done", "done"]
    assert fake.in_flight == 0


def test_opened_true_lets_callers_straight_through() -> None:
    fake = GatedFake(return_value=7, opened=True)
    assert fake.is_open
    assert fake(1) == 7
    assert fake.blocked == 0


def test_close_makes_later_callers_wait_again(fake: GatedFake, callers: Callers) -> None:
    fake.open()
    assert fake() == "done"
    fake.close()
    assert not fake.is_open
    callers.start(fake)
    assert fake.wait_for_callers(1, timeout=WAIT)
    assert fake.blocked == 1
    fake.open()
    assert callers.results(1) == ["done"]


def test_release_lets_exactly_n_waiting_callers_through_in_arrival_order(
    fake: GatedFake, callers: Callers
) -> None:
    fake.side_effect = lambda tag: tag
    for tag in range(3):
        callers.start(fake, tag)
        assert fake.wait_for_callers(tag + 1, timeout=WAIT)  # fixes the arrival order
    fake.release(2)
    assert sorted(callers.results(2)) == [0, 1]
    # the third is still held: its permit does not exist
    assert (fake.blocked, fake.in_flight, fake.gate.permits) == (1, 1, 0)
    assert callers.outcomes.empty()
    fake.release(1)
    assert callers.results(1) == [2]


def test_release_banks_permits_for_the_next_callers_to_arrive() -> None:
    fake = GatedFake(return_value="ok", name="banked", block_timeout=SHORT)
    fake.release(2)
    assert fake.gate.permits == 2
    assert fake() == "ok"
    assert fake() == "ok"
    assert fake.gate.permits == 0
    with pytest.raises(TimeoutError, match=r"'banked'.*never opened"):
        fake()


def test_release_zero_is_a_no_op() -> None:
    fake = GatedFake(block_timeout=SHORT)
    fake.release(0)
    assert fake.gate.permits == 0
    with pytest.raises(TimeoutError):
        fake()


def test_permits_survive_open_and_close() -> None:
    fake = GatedFake(return_value=1, block_timeout=SHORT)
    fake.release(1)
    fake.open()
    assert fake() == 1  # an open gate uses no permit
    fake.close()
    assert fake() == 1  # the banked permit
    with pytest.raises(TimeoutError):
        fake()


@pytest.mark.parametrize(
    ("n", "error", "message"),
    [
        (-1, ValueError, "n must be >= 0, got -1"),
        (1.5, TypeError, "n must be an int"),
        (True, TypeError, "n must be an int"),
    ],
)
def test_release_rejects_bad_counts(n: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        GatedFake().release(n)


# -- wait_for_callers, in_flight, max_in_flight -------------------------------------


def test_wait_for_callers_returns_false_when_they_never_come(fake: GatedFake) -> None:
    assert fake.wait_for_callers(0, timeout=0)
    assert not fake.wait_for_callers(1, timeout=0)
    assert not fake.wait_for_callers(1, timeout=SHORT)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n": -1, "timeout": 1}, ValueError, "n must be >= 0"),
        ({"n": 1, "timeout": -1}, ValueError, "timeout must be a finite number of seconds >= 0"),
        ({"n": 1, "timeout": math.inf}, ValueError, "timeout must be a finite"),
        ({"n": 1, "timeout": math.nan}, ValueError, "timeout must be a finite"),
        ({"n": 1, "timeout": "1"}, TypeError, "timeout must be a number of seconds"),
        ({"n": 1, "timeout": None}, TypeError, "timeout must be a number of seconds"),
    ],
)
def test_wait_for_callers_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        GatedFake().wait_for_callers(**kwargs)


def test_wait_for_callers_requires_a_timeout() -> None:
    with pytest.raises(TypeError):
        GatedFake().wait_for_callers(1)  # type: ignore[call-arg]


def test_in_flight_counts_callers_waiting_and_running(fake: GatedFake, callers: Callers) -> None:
    running, finish = threading.Event(), threading.Event()

    def effect(tag: int) -> int:
        if tag == 0:
            running.set()
            assert finish.wait(WAIT)
        return tag

    fake.side_effect = effect
    callers.start(fake, 0)
    assert fake.wait_for_callers(1, timeout=WAIT)
    callers.start(fake, 1)
    assert fake.wait_for_callers(2, timeout=WAIT)
    fake.release(1)
    assert running.wait(WAIT)
    assert (fake.in_flight, fake.blocked) == (2, 1)  # one running its effect, one waiting
    finish.set()
    assert callers.results(1) == [0]
    assert fake.in_flight == 1
    fake.open()
    assert callers.results(1) == [1]
    assert fake.wait_idle(timeout=WAIT)
    assert (fake.in_flight, fake.max_in_flight) == (0, 2)


def test_calls_are_recorded_on_arrival_before_the_gate_opens(
    fake: GatedFake, callers: Callers
) -> None:
    callers.start(lambda: fake(1, key="a"))
    assert fake.wait_for_callers(1, timeout=WAIT)
    assert fake.calls == 1
    assert fake.call_args_list == [call(1, key="a")]
    assert fake.call_args == call(1, key="a")
    fake.open()
    callers.results(1)


# -- results: return_value and side_effect, as unittest.mock ------------------------


def test_return_value_is_returned() -> None:
    assert GatedFake(return_value={"a": 1}, opened=True)() == {"a": 1}
    assert GatedFake(opened=True)() is None


@pytest.mark.parametrize("effect", [KeyError, KeyError("missing")])
def test_exception_side_effect_is_raised(effect: Any) -> None:
    fake = GatedFake(side_effect=effect, opened=True)
    with pytest.raises(KeyError):
        fake()
    assert fake.calls == 1
    assert fake.in_flight == 0  # a raising caller still leaves


def test_iterable_side_effect_yields_raises_then_is_exhausted() -> None:
    fake = GatedFake(
        return_value="default", side_effect=[1, ValueError("second"), DEFAULT], opened=True
    )
    assert fake() == 1
    with pytest.raises(ValueError, match="second"):
        fake()
    assert fake() == "default"
    with pytest.raises(StopIteration):
        fake()


def test_callable_side_effect_gets_the_arguments_and_may_defer_to_return_value() -> None:
    seen: list[tuple[Any, ...]] = []

    def effect(*args: Any, **kwargs: Any) -> Any:
        seen.append((args, kwargs))
        return DEFAULT if kwargs.get("default") else args[0] * 2

    fake = GatedFake(return_value="rv", side_effect=effect, opened=True)
    assert fake(21) == 42
    assert fake(1, default=True) == "rv"
    assert seen == [((21,), {}), ((1,), {"default": True})]


def test_side_effect_can_be_replaced_and_rejects_non_iterables() -> None:
    fake = GatedFake(side_effect=[1], opened=True)
    fake.side_effect = None
    fake.return_value = 3
    assert fake() == 3
    with pytest.raises(TypeError, match="side_effect must be None, an exception"):
        fake.side_effect = 5


# -- block_timeout and bad constructor arguments -------------------------------------


def test_a_caller_blocked_past_block_timeout_raises_naming_the_fake() -> None:
    fake = GatedFake(name="slow-loader", block_timeout=SHORT)
    with pytest.raises(TimeoutError) as raised:
        fake("x")
    message = str(raised.value)
    assert "GatedFake 'slow-loader'" in message
    assert "never opened" in message
    # the caller was recorded, and left the gate
    assert (fake.calls, fake.in_flight, fake.blocked) == (1, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"block_timeout": 0}, ValueError, "block_timeout must be a finite number of seconds > 0"),
        ({"block_timeout": math.inf}, ValueError, "block_timeout must be a finite"),
        ({"block_timeout": "1"}, TypeError, "block_timeout must be a number"),
        ({"opened": "yes"}, TypeError, "opened must be a bool"),
        ({"name": 3}, TypeError, "name must be a str or None"),
    ],
)
def test_constructor_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        GatedFake(**kwargs)
    with pytest.raises(error, match=message):
        GatedEncoder(**kwargs)


# -- helpers ----------------------------------------------------------------------------


def test_reset_calls_and_assert_helpers() -> None:
    fake = GatedFake(opened=True)
    with pytest.raises(AssertionError, match="called once, got 0"):
        fake.assert_called_once()
    fake(1, k=2)
    fake.assert_called_once()
    fake.assert_called_once_with(1, k=2)
    with pytest.raises(AssertionError, match="expected call\\(2\\)"):
        fake.assert_called_once_with(2)
    fake.reset_calls()
    assert (fake.calls, fake.call_args_list, fake.call_args) == (0, [], None)
    assert fake.max_in_flight == 1  # counters belong to the gate, not the log


def test_repr_shows_name_and_state(fake: GatedFake) -> None:
    text = repr(fake)
    assert "GatedFake 'loader'" in text
    assert "closed" in text
    assert "0 calls" in text
    assert "unnamed GatedEncoder dim=8" in repr(GatedEncoder())


# -- acall: coroutines wait without blocking the loop -------------------------------


def test_acall_waits_without_blocking_the_event_loop() -> None:
    async def scenario() -> None:
        fake = GatedFake(return_value="async", name="aloader")
        task = asyncio.create_task(fake.acall(1))
        ticks = 0
        while fake.blocked < 1 and ticks < 100:  # the loop keeps turning meanwhile
            await asyncio.sleep(0)
            ticks += 1
        assert fake.blocked == 1
        assert fake.call_args_list == [call(1)]
        assert not task.done()
        fake.release(1)
        assert await asyncio.wait_for(task, WAIT) == "async"
        assert fake.in_flight == 0

    asyncio.run(scenario())


def test_acall_awaits_a_coroutine_side_effect_and_applies_plain_ones() -> None:
    async def effect(x: int) -> Any:
        await asyncio.sleep(0)
        return DEFAULT if x < 0 else x + 1

    async def scenario() -> None:
        fake = GatedFake(return_value="rv", side_effect=effect, opened=True)
        assert await fake.acall(1) == 2
        assert await fake.acall(-1) == "rv"
        fake.side_effect = [ValueError("boom")]
        with pytest.raises(ValueError, match="boom"):
            await fake.acall()
        with pytest.raises(StopAsyncIteration):
            await fake.acall()

    asyncio.run(scenario())


def test_sync_and_async_callers_share_one_gate_and_one_permit_count() -> None:
    async def scenario() -> None:
        fake = GatedFake(side_effect=lambda who: who, name="shared")
        from_thread = asyncio.create_task(asyncio.to_thread(fake, "thread"))
        from_task = asyncio.create_task(fake.acall("task"))
        assert await asyncio.to_thread(fake.wait_for_callers, 2, WAIT)
        assert fake.blocked == 2
        fake.release(1)
        done, pending = await asyncio.wait(
            {from_thread, from_task}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED
        )
        assert len(done) == 1  # one permit, one caller, whichever kind came first
        assert (fake.blocked, fake.in_flight) == (1, 1)
        fake.release(1)
        done, pending = await asyncio.wait(pending, timeout=WAIT)
        assert not pending
        assert {await from_thread, await from_task} == {"thread", "task"}

    asyncio.run(scenario())


def test_acall_block_timeout_raises_and_leaves_the_gate() -> None:
    async def scenario() -> None:
        fake = GatedFake(name="async-slow", block_timeout=SHORT)
        with pytest.raises(TimeoutError, match=r"'async-slow'.*never opened"):
            await fake.acall()
        assert (fake.in_flight, fake.blocked) == (0, 0)

    asyncio.run(scenario())


def test_a_cancelled_waiting_caller_leaves_the_gate() -> None:
    async def scenario() -> None:
        fake = GatedFake()
        task = asyncio.create_task(fake.acall())
        while fake.blocked < 1:
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait({task}, timeout=WAIT)
        assert task.cancelled()
        assert (fake.blocked, fake.in_flight, fake.calls) == (0, 0, 1)

    asyncio.run(scenario())


def test_a_permit_granted_to_a_cancelled_caller_is_not_lost() -> None:
    async def scenario() -> None:
        fake = GatedFake(return_value="through")
        first = asyncio.create_task(fake.acall("first"))
        second = asyncio.create_task(fake.acall("second"))
        while fake.blocked < 2:
            await asyncio.sleep(0)
        fake.release(1)  # granted to `first`...
        first.cancel()  # ...which is cancelled before it resumes
        try:
            await asyncio.wait({first}, timeout=WAIT)
            if first.cancelled():  # the permit went on to `second`
                assert await asyncio.wait_for(second, WAIT) == "through"
            else:  # asyncio let `first` finish with its permit (older wait_for)
                assert first.result() == "through"
                assert (fake.blocked, fake.in_flight) == (1, 1)
            assert fake.gate.permits == 0  # exactly one caller used the one permit
        finally:
            fake.open()
            await asyncio.wait({second}, timeout=WAIT)
        assert fake.in_flight == 0

    asyncio.run(scenario())


# -- GatedEncoder -------------------------------------------------------------------------


def test_encoder_vectors_are_deterministic_unit_vectors() -> None:
    encoder = GatedEncoder(dim=16, opened=True)
    first, second, again = encoder.encode(["cat", "dog", "cat"])
    assert first == again != second
    assert len(first) == 16
    assert math.isclose(math.fsum(x * x for x in first), 1.0)
    assert first == encoder.vector("cat") == text_vector("cat", 16)
    assert GatedEncoder(dim=16, opened=True).encode(["cat"]) == [first]


def test_encoder_vectors_do_not_depend_on_the_process_or_hash_seed() -> None:
    script = (
        "from pytest_concurrency.fakes import GatedEncoder;"
        "print(repr(GatedEncoder(dim=4, opened=True).encode(['cat', 'dog'])))"
    )
    here = repr(GatedEncoder(dim=4, opened=True).encode(["cat", "dog"]))
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert out.stdout.strip() == here


def test_encoder_counts_calls_records_batches_and_blocks_at_its_gate(
    callers: Callers,
) -> None:
    encoder = GatedEncoder(dim=4, name="vocab")
    try:
        callers.start(encoder.encode, ("cat", "dog"))
        callers.start(encoder.encode, ["sun"])
        assert encoder.wait_for_callers(2, timeout=WAIT)
        assert encoder.encode_calls == 2
        assert callers.outcomes.empty()
        encoder.open()
        results = callers.results(2)
        assert sorted(map(len, results)) == [1, 2]
        assert sorted(encoder.encoded_batches) == [["cat", "dog"], ["sun"]]
        assert encoder.max_in_flight == 2
        encoder.reset_calls()
        assert encoder.encode_calls == 0
    finally:
        encoder.open()


def test_encoder_aencode_shares_the_gate() -> None:
    async def scenario() -> None:
        encoder = GatedEncoder(dim=4)
        task = asyncio.create_task(encoder.aencode(["cat"]))
        while encoder.blocked < 1:
            await asyncio.sleep(0)
        encoder.release()
        assert await asyncio.wait_for(task, WAIT) == [encoder.vector("cat")]
        assert encoder.encode_calls == 1

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("call_it", "error", "message"),
    [
        (
            lambda e: e.encode("cat"),
            TypeError,
            "texts must be an iterable of str, not a single str",
        ),
        (lambda e: e.encode(["cat", 1]), TypeError, "texts must contain only str, got 1"),
        (lambda e: GatedEncoder(dim=0), ValueError, "dim must be >= 1, got 0"),
        (lambda e: GatedEncoder(dim=True), TypeError, "dim must be an int >= 1"),
        (lambda e: text_vector(b"cat", 4), TypeError, "text must be a str"),  # type: ignore[arg-type]
    ],
)
def test_encoder_rejects_bad_input(
    call_it: Callable[[GatedEncoder], Any], error: type[Exception], message: str
) -> None:
    encoder = GatedEncoder(opened=True)
    with pytest.raises(error, match=message):
        call_it(encoder)
    assert encoder.encode_calls == 0  # bad input is refused before it is recorded


# -- teardown: the tracker behind the fixtures ----------------------------------------


def _blocked_caller(fake: GatedFake) -> None:
    fake("from a thread")  # blocked-call-site


def test_tracker_reports_blocked_callers_with_thread_and_call_site(callers: Callers) -> None:
    tracker = FakeTracker("gated_fake", root=THIS_FILE.parent.parent)
    make = tracker.factory(GatedFake)
    fake = make(name="loader")
    idle = make()
    callers.start(_blocked_caller, fake, name="stuck-1")
    callers.start(_blocked_caller, fake, name="stuck-2")
    assert fake.wait_for_callers(2, timeout=WAIT)
    report = tracker.finish()
    where = f"tests/{THIS_FILE.name}:{line_of('blocked-call-site')}"
    assert report is not None
    first_line = report.splitlines()[0]
    assert first_line.startswith("gated_fake 'loader' still had 2 blocked callers at teardown: ")
    assert f"stuck-1 called from {where}" in first_line
    assert f"stuck-2 called from {where}" in first_line
    assert "#2" not in report  # the idle fake held nobody
    # every gate is open and the released callers have left
    assert fake.is_open and idle.is_open
    assert fake.in_flight == 0
    callers.results(2)


def test_tracker_is_silent_when_nothing_was_left_blocked(callers: Callers) -> None:
    tracker = FakeTracker("gated_encoder")
    encoder = tracker.track(GatedEncoder())
    callers.start(encoder.encode, ["cat"])
    assert encoder.wait_for_callers(1, timeout=WAIT)
    encoder.open()
    callers.results(1)
    assert tracker.finish() is None


def test_tracker_names_unnamed_fakes_by_creation_order(callers: Callers) -> None:
    tracker = FakeTracker("gated_fake")
    tracker.track(GatedFake(opened=True))
    second = tracker.track(GatedFake())
    callers.start(second)
    assert second.wait_for_callers(1, timeout=WAIT)
    report = tracker.finish()
    assert report is not None
    assert report.startswith("gated_fake #2 still had 1 blocked caller at teardown: ")
    callers.results(1)


def test_a_fake_used_directly_as_thread_target_is_reported_at_the_thread_entry() -> None:
    tracker = FakeTracker("gated_fake")
    fake = tracker.track(GatedFake())
    thread = threading.Thread(target=fake, name="bare-target")
    thread.start()
    try:
        assert fake.wait_for_callers(1, timeout=WAIT)
        report = tracker.finish()
    finally:
        fake.open()
        thread.join(WAIT)
    assert report is not None
    assert "bare-target called from " in report
    assert "threading.py:" in report  # no user frame: the frame that called into the fake


def test_async_blocked_callers_are_reported_with_their_task(tmp_path: Path) -> None:
    tracker = FakeTracker("gated_fake")
    fake = tracker.track(GatedFake(name="aloader"))

    async def scenario() -> str | None:
        task = asyncio.create_task(fake.acall(), name="fetcher")
        while fake.blocked < 1:
            await asyncio.sleep(0)
        report = await asyncio.to_thread(tracker.finish)
        await asyncio.wait_for(task, WAIT)  # released by the teardown
        return report

    report = asyncio.run(scenario())
    assert report is not None
    assert "(task fetcher) called from" in report
    assert f"{THIS_FILE}:" in report


def test_gate_alone_gates_any_code(callers: Callers) -> None:
    gate = Gate("custom gate")

    def gated_work() -> str:
        with gate.passage():
            return "worked"

    callers.start(gated_work)
    assert gate.wait_for_callers(1, timeout=WAIT)
    assert "custom gate: closed, 1 blocked" in repr(gate)
    gate.open()
    assert callers.results(1) == ["worked"]


# -- the demo section --------------------------------------------------------------------


def test_demo_section_rows_are_ok_and_fast() -> None:
    rows = fakes_demo.run()
    assert [row.observed for row in rows] == ["4 encode calls", "4 encode calls", "1 encode call"]
    assert all(row.ok for row in rows), rows
    assert sum(row.seconds for row in rows) < 1.0
    assert fakes_demo.TITLE == "Gated fakes: a cache stampede made visible"
