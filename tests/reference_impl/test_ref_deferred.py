"""DeferredDeleter (seed 002b): one janitor, due order, wake-ups, failures, restarts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from ref_helpers import TIMEOUT, ManualTime

from reference_impl import DeferredDeleter


class Recorder:
    """A ``delete`` that records items and lets the test wait for a count."""

    def __init__(self, fail_on: frozenset[str] = frozenset()) -> None:
        self.deleted: list[str] = []
        self._cond = threading.Condition()
        self._fail_on = fail_on

    def __call__(self, item: str) -> None:
        if item in self._fail_on:
            raise PermissionError(f"cannot delete {item}")
        with self._cond:
            self.deleted.append(item)
            self._cond.notify_all()

    def wait_for(self, count: int) -> list[str]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.deleted) >= count, TIMEOUT), (
                f"only {self.deleted} deleted, expected {count} items"
            )
            return list(self.deleted)


@pytest.fixture
def thread_name(request: pytest.FixtureRequest) -> str:
    """A janitor name unique to the test, so thread counts see only this test's janitor."""
    return f"janitor-{request.node.name}"


def janitors(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


@pytest.fixture
def closing() -> Iterator[list[DeferredDeleter[str]]]:
    """Deleters registered here are closed at teardown (their janitors joined)."""
    deleters: list[DeferredDeleter[str]] = []
    yield deleters
    for deleter in deleters:
        deleter.close()


def make(
    delete: Recorder,
    manual_time: ManualTime,
    thread_name: str,
    closing: list[DeferredDeleter[str]],
) -> DeferredDeleter[str]:
    deleter = DeferredDeleter(
        delete,
        clock=manual_time,
        condition_factory=manual_time.condition,
        thread_name=thread_name,
    )
    closing.append(deleter)
    return deleter


def test_the_janitor_starts_lazily_and_one_serves_any_number_of_items(
    manual_time: ManualTime, thread_name: str, closing: list[DeferredDeleter[str]]
) -> None:
    deleter = make(Recorder(), manual_time, thread_name, closing)
    assert janitors(thread_name) == []
    for n in range(200):
        deleter.schedule(f"blob-{n}", 480.0)
    assert deleter.pending == 200
    (janitor,) = janitors(thread_name)  # seed 002b had 200 threads asleep here
    assert janitor.daemon


def test_items_are_deleted_in_due_order(
    manual_time: ManualTime, thread_name: str, closing: list[DeferredDeleter[str]]
) -> None:
    delete = Recorder()
    deleter = make(delete, manual_time, thread_name, closing)
    for item, delay in [("c", 30.0), ("a", 10.0), ("b", 20.0), ("a2", 10.0)]:
        deleter.schedule(item, delay)
    manual_time.advance(100.0)
    assert delete.wait_for(4) == ["a", "a2", "b", "c"]  # equal due times: FIFO
    assert deleter.pending == 0


def test_an_item_is_not_deleted_before_it_is_due(
    manual_time: ManualTime, thread_name: str, closing: list[DeferredDeleter[str]]
) -> None:
    delete = Recorder()
    deleter = make(delete, manual_time, thread_name, closing)
    deleter.schedule("soon", 5.0)
    deleter.schedule("later", 10.0)
    manual_time.advance(5.0)
    assert delete.wait_for(1) == ["soon"]
    manual_time.wait_for_wait(lambda timeout: timeout == 5.0)  # parked on "later"
    assert delete.deleted == ["soon"] and deleter.pending == 1
    manual_time.advance(5.0)
    assert delete.wait_for(2) == ["soon", "later"]


def test_an_earlier_item_wakes_a_janitor_waiting_on_a_later_one(
    manual_time: ManualTime, thread_name: str, closing: list[DeferredDeleter[str]]
) -> None:
    delete = Recorder()
    deleter = DeferredDeleter(
        delete, condition_factory=manual_time.condition, thread_name=thread_name
    )
    closing.append(deleter)  # real clock: only a notify can end the 10-minute wait
    deleter.schedule("in ten minutes", 600.0)
    manual_time.wait_for_wait(lambda timeout: timeout is not None and timeout > 500)
    deleter.schedule("now", 0.0)
    assert delete.wait_for(1) == ["now"]
    assert deleter.pending == 1


def test_a_failing_delete_is_logged_and_skipped(
    manual_time: ManualTime,
    thread_name: str,
    closing: list[DeferredDeleter[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    delete = Recorder(fail_on=frozenset({"locked-blob"}))
    deleter = make(delete, manual_time, thread_name, closing)
    with caplog.at_level(logging.ERROR, logger="reference_impl.deferred"):
        deleter.schedule("locked-blob", 1.0)
        deleter.schedule("next-blob", 2.0)
        manual_time.advance(2.0)
        assert delete.wait_for(1) == ["next-blob"]
    assert "deferred delete of 'locked-blob' failed" in caplog.text
    assert "PermissionError" in caplog.text


class JanitorKilled(BaseException):
    """A BaseException out of ``delete``: kills the janitor thread, not the process."""


def test_a_killed_janitor_is_restarted_even_while_it_is_still_unwinding(
    manual_time: ManualTime,
    thread_name: str,
    closing: list[DeferredDeleter[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unwinding, let_it_die = threading.Event(), threading.Event()

    def slow_excepthook(args: threading.ExceptHookArgs) -> None:
        assert args.exc_type is JanitorKilled
        unwinding.set()  # the dying thread left its loop but is still alive
        let_it_die.wait(TIMEOUT)

    monkeypatch.setattr(threading, "excepthook", slow_excepthook)
    delete = Recorder()

    def deadly(item: str) -> None:
        if item == "poison":
            raise JanitorKilled
        delete(item)

    deleter = DeferredDeleter(
        deadly, clock=manual_time, condition_factory=manual_time.condition, thread_name=thread_name
    )
    closing.append(deleter)
    deleter.schedule("poison", 0.0)
    assert unwinding.wait(TIMEOUT)
    (dying,) = janitors(thread_name)
    assert dying.is_alive()
    deleter.schedule("after", 0.0)  # must not trust is_alive(): start a new janitor
    try:
        assert delete.wait_for(1) == ["after"]
        assert len(janitors(thread_name)) >= 1
    finally:
        let_it_die.set()
        dying.join(TIMEOUT)
    assert not dying.is_alive()


def test_an_item_scheduled_while_the_janitor_dies_is_still_deleted(
    manual_time: ManualTime,
    thread_name: str,
    closing: list[DeferredDeleter[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No later schedule() comes: the dying janitor must hand its heap to a successor."""
    deaths: list[type[BaseException]] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: deaths.append(args.exc_type))
    inside, die = threading.Event(), threading.Event()
    delete = Recorder()

    def deadly(item: str) -> None:
        if item == "poison":
            inside.set()
            die.wait(TIMEOUT)
            raise JanitorKilled
        delete(item)

    deleter = DeferredDeleter(
        deadly, clock=manual_time, condition_factory=manual_time.condition, thread_name=thread_name
    )
    closing.append(deleter)
    deleter.schedule("poison", 0.0)
    assert inside.wait(TIMEOUT)
    deleter.schedule("blob", 0.0)  # the janitor is busy in delete(): nobody is notified
    die.set()
    assert delete.wait_for(1) == ["blob"]
    assert deaths == [JanitorKilled]


def test_an_idle_janitor_exits_and_a_later_schedule_starts_a_new_one(
    manual_time: ManualTime, thread_name: str, closing: list[DeferredDeleter[str]]
) -> None:
    delete = Recorder()
    deleter = make(delete, manual_time, thread_name, closing)
    deleter.schedule("a", 1.0)
    (first,) = janitors(thread_name)  # parked until the clock moves
    manual_time.advance(1.0)
    delete.wait_for(1)
    first.join(TIMEOUT)
    assert not first.is_alive()
    deleter.schedule("b", 0.0)
    assert delete.wait_for(2) == ["a", "b"]


def test_close_returns_the_pending_items_and_stops_the_janitor(
    manual_time: ManualTime, thread_name: str
) -> None:
    delete = Recorder()
    deleter = DeferredDeleter(
        delete, clock=manual_time, condition_factory=manual_time.condition, thread_name=thread_name
    )
    deleter.schedule("late", 20.0)
    deleter.schedule("early", 10.0)
    (janitor,) = janitors(thread_name)
    assert deleter.close() == ["early", "late"]
    assert not janitor.is_alive()
    assert delete.deleted == [] and deleter.pending == 0
    assert deleter.close() == []
    with pytest.raises(RuntimeError, match="closed"):
        deleter.schedule("too late", 0.0)


def test_close_with_flush_deletes_pending_items_now(
    manual_time: ManualTime, thread_name: str
) -> None:
    delete = Recorder(fail_on=frozenset({"stuck"}))
    deleter = DeferredDeleter(
        delete, clock=manual_time, condition_factory=manual_time.condition, thread_name=thread_name
    )
    for item, delay in [("b", 20.0), ("stuck", 15.0), ("a", 10.0)]:
        deleter.schedule(item, delay)
    assert deleter.close(flush=True) == ["stuck"]
    assert delete.deleted == ["a", "b"]
    assert janitors(thread_name) == []


def test_close_before_any_schedule_starts_nothing(thread_name: str) -> None:
    deleter: DeferredDeleter[str] = DeferredDeleter(Recorder(), thread_name=thread_name)
    assert deleter.close() == []
    assert janitors(thread_name) == []


def test_the_default_clock_is_time_monotonic_looked_up_at_call_time(
    monkeypatch: pytest.MonkeyPatch, thread_name: str
) -> None:
    import time

    monkeypatch.setattr(time, "monotonic", lambda: 5_000.0)
    deleter: DeferredDeleter[str] = DeferredDeleter(Recorder(), thread_name=thread_name)
    deleter.schedule("x", 1.0)
    assert deleter._heap[0][0] == 5_001.0
    assert deleter.close() == ["x"]


@pytest.mark.parametrize(
    ("delay", "error", "message"),
    [
        (-1.0, ValueError, "delay must be a finite number of seconds >= 0, got -1.0"),
        (float("nan"), ValueError, "delay must be a finite number"),
        (float("inf"), ValueError, "delay must be a finite number"),
        ("5", TypeError, "delay must be a number of seconds"),
        (True, TypeError, "delay must be a number of seconds"),
    ],
)
def test_schedule_rejects_bad_delays(delay: object, error: type[Exception], message: str) -> None:
    deleter: DeferredDeleter[str] = DeferredDeleter(Recorder())
    with pytest.raises(error, match=message):
        deleter.schedule("x", delay)  # type: ignore[arg-type]
    assert deleter.pending == 0


def test_deleter_rejects_bad_constructor_and_close_arguments() -> None:
    with pytest.raises(TypeError, match="delete must be callable"):
        DeferredDeleter("rm")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clock must be callable"):
        DeferredDeleter(Recorder(), clock=3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="condition_factory must be callable"):
        DeferredDeleter(Recorder(), condition_factory=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be"):
        DeferredDeleter(Recorder()).close(timeout=-1)
