"""RunGuard (seed 003): one run, dedup window, stale-slot release, owner-checked end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from ref_helpers import TIMEOUT, ManualTime, Spawned

from reference_impl import RunGuard, RunRejected, fingerprint

SpawnFn = Callable[..., Spawned]


@pytest.fixture
def guard(manual_time: ManualTime) -> RunGuard:
    return RunGuard(dedup_window=5.0, max_run_seconds=1800.0, clock=manual_time)


def test_a_second_run_is_rejected_while_one_is_in_flight(guard: RunGuard) -> None:
    run = guard.begin("op-1", "/generate", {"topic": "a"})
    assert (run.operation_id, guard.current()) == ("op-1", "op-1")
    with pytest.raises(RunRejected) as info:
        guard.begin("op-2", "/generate", {"topic": "b"})
    assert info.value.reason == "in_flight"
    assert info.value.operation_id == "op-1"
    assert "op-1" in str(info.value)


def test_at_most_one_of_many_simultaneous_submits_is_accepted(
    guard: RunGuard, spawn: SpawnFn
) -> None:
    line_up = threading.Barrier(8)

    def submit(n: int) -> str:
        line_up.wait(TIMEOUT)
        try:
            guard.begin(f"op-{n}", "/generate", {"n": n})
        except RunRejected as rejected:
            return rejected.reason
        return "accepted"

    outcomes = [t.result() for t in [spawn(submit, n) for n in range(8)]]
    assert sorted(outcomes) == ["accepted"] + ["in_flight"] * 7


def test_a_duplicate_inside_the_window_is_rejected_even_after_the_run_ended(
    guard: RunGuard, manual_time: ManualTime
) -> None:
    guard.begin("op-1", "/generate", {"topic": "a"})
    assert guard.end("op-1") is True
    manual_time.advance(4.9)
    with pytest.raises(RunRejected) as info:
        guard.begin("op-2", "/generate", {"topic": "a"})
    assert info.value.reason == "duplicate"
    assert info.value.operation_id is None
    guard.begin("op-3", "/generate", {"topic": "other"})  # a different request is fine
    guard.end("op-3")
    manual_time.advance(0.1)  # the window is over
    assert guard.begin("op-4", "/generate", {"topic": "a"}).operation_id == "op-4"


def test_a_rejected_duplicate_does_not_extend_the_window(
    guard: RunGuard, manual_time: ManualTime
) -> None:
    guard.begin("op-1", "/r", 1)
    guard.end("op-1")
    manual_time.advance(3.0)
    with pytest.raises(RunRejected):
        guard.begin("op-2", "/r", 1)
    manual_time.advance(2.0)
    guard.begin("op-3", "/r", 1)


def test_dict_order_does_not_defeat_dedup(guard: RunGuard) -> None:
    guard.begin("op-1", "/generate", {"a": 1, "b": [1, 2]})
    guard.end("op-1")
    with pytest.raises(RunRejected, match="identical request"):
        guard.begin("op-2", "/generate", {"b": [1, 2], "a": 1})
    assert fingerprint("/x", {"a": 1, "b": 2}) == fingerprint("/x", {"b": 2, "a": 1})
    assert fingerprint("/x", {"a": 1}) != fingerprint("/y", {"a": 1})
    assert fingerprint("/x", {1: "a", "1": "b"}) == fingerprint("/x", {1: "a", "1": "b"})
    assert fingerprint("/x", object) == fingerprint("/x", object)


def test_a_stale_slot_is_released_by_the_next_begin(
    guard: RunGuard, manual_time: ManualTime, caplog: pytest.LogCaptureFixture
) -> None:
    guard.begin("crashed", "/generate", {"topic": "a"})
    manual_time.advance(1800.0)
    with pytest.raises(RunRejected):  # exactly at the limit: still held
        guard.begin("op-2", "/generate", {"topic": "b"})
    manual_time.advance(0.5)
    assert guard.begin("op-3", "/generate", {"topic": "c"}).operation_id == "op-3"
    assert "releasing run crashed" in caplog.text
    assert guard.end("crashed") is False  # the crashed run cannot free the new one
    assert guard.current() == "op-3"


def test_current_applies_the_watchdog_too(guard: RunGuard, manual_time: ManualTime) -> None:
    guard.begin("crashed", "/r", None)
    manual_time.advance(1800.1)
    assert guard.current() is None


def test_end_is_idempotent_and_owner_checked(guard: RunGuard) -> None:
    guard.begin("op-1", "/r", None)
    assert guard.end("someone-else") is False
    assert guard.current() == "op-1"
    assert guard.end("op-1") is True
    assert guard.end("op-1") is False
    assert guard.current() is None


def test_running_releases_on_every_exit_path(guard: RunGuard, manual_time: ManualTime) -> None:
    with guard.running("op-1", "/r", 1) as run:
        assert run.started_at == manual_time.now
        assert guard.current() == "op-1"
    assert guard.current() is None
    with pytest.raises(KeyError), guard.running("op-2", "/r", 2):
        raise KeyError("crash inside the run")
    assert guard.current() is None

    def early_return() -> str:
        with guard.running("op-3", "/r", 3):
            return "done"

    assert early_return() == "done"
    assert guard.current() is None


def test_a_rejected_running_does_not_release_the_holder(guard: RunGuard) -> None:
    guard.begin("holder", "/r", 1)
    with pytest.raises(RunRejected), guard.running("intruder", "/r", 2):
        pass
    assert guard.current() == "holder"


def test_dedup_memory_stays_bounded(guard: RunGuard, manual_time: ManualTime) -> None:
    for n in range(1000):
        with guard.running(f"op-{n}", "/r", n):
            pass
        manual_time.advance(1.0)
    assert len(guard._recent) <= 5  # only runs accepted inside the 5 s window remain


def test_time_is_monotonic_and_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = RunGuard()
    monkeypatch.setattr(time, "monotonic", lambda: 42.0)
    assert guard.begin("op", "/r", None).started_at == 42.0


def test_an_infinite_window_and_age_are_allowed(manual_time: ManualTime) -> None:
    guard = RunGuard(dedup_window=float("inf"), max_run_seconds=float("inf"), clock=manual_time)
    guard.begin("op-1", "/r", 1)
    manual_time.advance(1e9)
    assert guard.current() == "op-1"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dedup_window": -1}, ValueError, "dedup_window must be a number of seconds >= 0"),
        ({"dedup_window": float("nan")}, ValueError, "dedup_window must be"),
        ({"max_run_seconds": -0.5}, ValueError, "max_run_seconds must be"),
        ({"max_run_seconds": "30m"}, TypeError, "max_run_seconds must be a number"),
        ({"clock": "monotonic"}, TypeError, "clock must be callable"),
    ],
)
def test_run_guard_rejects_bad_constructor_arguments(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RunGuard(**kwargs)  # type: ignore[arg-type]


def test_begin_rejects_bad_arguments(guard: RunGuard) -> None:
    with pytest.raises(TypeError, match="operation_id must be a str"):
        guard.begin(7, "/r", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="route must be a str"):
        guard.begin("op", None, None)  # type: ignore[arg-type]
    assert guard.current() is None
