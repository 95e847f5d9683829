"""A lost wakeup: the notify is sent before the waiter waits, and nothing remembers it.

The buggy mailbox waits on the condition unconditionally; the fixed one waits
for a predicate (a delivered flag), so a notify that came first is not lost.
"""

from __future__ import annotations

import threading


class BuggyMailbox:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.letter: str | None = None

    def deliver(self, letter: str) -> None:
        with self._cond:
            self.letter = letter
            self._cond.notify()

    def receive(self) -> str | None:
        with self._cond:
            self._cond.wait()
            return self.letter


class FixedMailbox(BuggyMailbox):
    def receive(self) -> str | None:
        with self._cond:
            self._cond.wait_for(lambda: self.letter is not None)
            return self.letter


def _one_letter(mailbox_class: type[BuggyMailbox]) -> None:
    mailbox = mailbox_class()
    received: list[str | None] = []
    reader = threading.Thread(target=lambda: received.append(mailbox.receive()), name="reader")
    reader.start()
    mailbox.deliver("hello")
    reader.join()
    assert received == ["hello"]


def buggy() -> None:
    _one_letter(BuggyMailbox)


def fixed() -> None:
    _one_letter(FixedMailbox)
