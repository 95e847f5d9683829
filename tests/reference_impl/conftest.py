"""Fixtures for the reference_impl tests; the helpers live in ``ref_helpers``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ref_helpers import SUBJECT_PREFIX, ManualTime, Spawned, WaitObserver


@pytest.fixture
def spawn() -> Iterator[Callable[..., Spawned]]:
    """Start subject threads; every one must have finished by teardown."""
    started: list[Spawned] = []

    def _spawn(fn: Callable[..., Any], *args: Any) -> Spawned:
        handle = Spawned(fn, args, f"{SUBJECT_PREFIX}{len(started)}")
        started.append(handle)
        handle.thread.start()
        return handle

    yield _spawn
    for handle in started:
        handle.join()


@pytest.fixture
def observe_events(monkeypatch: pytest.MonkeyPatch) -> WaitObserver:
    """Replace ``threading.Event`` for the test so subject waits can be awaited."""
    observer = WaitObserver()
    monkeypatch.setattr(threading, "Event", observer.event_class())
    return observer


@pytest.fixture
def observe_conditions() -> WaitObserver:
    """An observer whose ``condition_class()`` a test passes to (or patches for) a guard."""
    return WaitObserver()


@pytest.fixture
def manual_time() -> ManualTime:
    return ManualTime()
