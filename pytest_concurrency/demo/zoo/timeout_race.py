"""A reply that arrives just as its caller gives up: reported delivered, yet lost.

The caller waits up to 5 s for a reply (``Condition.wait(timeout=5)``); the
responder stores it, notifies, and reports it delivered. If the timeout fires
just before the notify, the caller has already given up and returned nothing,
but the buggy ``complete`` still says "delivered" -- the reply is lost while
everyone believes it arrived. The fixed twin refuses a reply for an abandoned
call, so the responder knows to retry or roll back.

With the default ``timers="autojump"`` a timeout fires only when every thread
is blocked, never while the responder could still run, so this bug is out of
reach; ``timers="choice"`` makes "fire the timeout now" a choice of its own.
"""

from __future__ import annotations

import threading


class PendingCall:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._reply: str | None = None
        self._abandoned = False

    def wait_reply(self, timeout: float) -> str | None:
        """The reply, or None once ``timeout`` seconds passed without one."""
        with self._cond:
            if self._reply is None:
                self._cond.wait(timeout)
            if self._reply is None:
                self._abandoned = True
            return self._reply

    def complete(self, reply: str) -> bool:
        """Hand the reply over; True when the caller gets it."""
        with self._cond:
            self._reply = reply
            self._cond.notify()
            return True


class CheckedPendingCall(PendingCall):
    def complete(self, reply: str) -> bool:
        with self._cond:
            if self._abandoned:
                return False
            self._reply = reply
            self._cond.notify()
            return True


def _reply_races_timeout(call: PendingCall) -> None:
    got: list[str | None] = []
    caller = threading.Thread(target=lambda: got.append(call.wait_reply(timeout=5)))
    caller.start()
    delivered = call.complete("pong")
    caller.join()
    assert delivered == (got == ["pong"]), (
        f"complete() reported delivered={delivered} but the caller got {got[0]!r}"
    )


def buggy() -> None:
    _reply_races_timeout(PendingCall())


def fixed() -> None:
    _reply_races_timeout(CheckedPendingCall())
