"""blinker (pinned in the test-libs extra): a signal connected and disconnected at once.

A ``Signal`` keeps, per sender, the set of its receivers in a dict;
``disconnect(receiver)`` walks that dict's values in plain Python while
another thread's ``connect(other, sender=new_sender)`` may add a key to it.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext

import pytest
from real_checks import found, proven, run_threads

blinker = pytest.importorskip("blinker", reason="pip install -e .[test-libs]")

TRACE = ["blinker", __file__]


class _Sender:
    """A sender object (weakly referenced by the signal)."""


def _reconnect(guard: AbstractContextManager[object]) -> None:
    signal = blinker.Signal()
    first, second = _Sender(), _Sender()

    def audit(sender: object) -> None:
        pass

    def notify(sender: object) -> None:
        pass

    signal.connect(audit, weak=False)
    signal.connect(audit, sender=first, weak=False)

    def unsubscribe() -> None:
        with guard:
            signal.disconnect(audit)

    def subscribe() -> None:
        with guard:
            signal.connect(notify, sender=second, weak=False)

    run_threads(unsubscribe, subscribe)
    assert list(signal.receivers_for(second)) == [notify]
    assert list(signal.receivers_for(first)) == []


def test_disconnect_while_another_thread_connects_a_new_sender_crashes() -> None:
    """One thread disconnects a receiver from every sender while another connects a
    receiver for a sender never seen before: the disconnect iterates the per-sender
    dict as the connect adds the new sender to it, and raises "dictionary changed
    size during iteration"."""
    failure = found(lambda: _reconnect(nullcontext()), TRACE)
    assert "RuntimeError: dictionary changed size during iteration" in str(failure)


def test_connects_and_disconnects_under_one_lock_are_safe() -> None:
    """The same calls, made under one lock by the application."""
    proven(lambda: _reconnect(threading.Lock()), TRACE)
