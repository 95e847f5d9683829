"""Timers as schedulable choices: ``explore(..., timers="choice")``.

By default (``timers="autojump"``) virtual time moves only when every thread
is blocked, so a timeout fires only when nothing else can run: "the timeout
fires just before the notify" never happens, although on a real machine a slow
notifier makes it happen. With ``timers="choice"`` every pending deadline is
one more option at every scheduling decision: besides the enabled threads, the
strategy may pick a thread blocked with the *earliest* deadline, and then
virtual time jumps to that deadline and the thread wakes up timed out. Time
never goes backwards and no timer fires before its deadline; a thread whose
timeout has fired may still run after a later timer's thread, as a thread the
OS is slow to schedule does.

The timer options come after the enabled threads (each group in creation
order), so a strategy's default continuation -- dfs keeps the running thread,
else takes the first enabled one -- never fires a timer by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_concurrency.world.scheduler import ThreadRecord

#: names accepted by ``explore(timers=...)``
TIMER_MODES = ("autojump", "choice")


def pending_timers(live: list[ThreadRecord], enabled: list[ThreadRecord]) -> list[ThreadRecord]:
    """The blocked threads whose deadline is the earliest one still in the future.

    ``enabled`` are the threads that can run now (their deadline, if any, has
    passed, or what they wait for is ready); they are not timer options.
    """
    earliest: float | None = None
    found: list[ThreadRecord] = []
    for record in live:
        deadline = record.deadline
        if deadline is None or not record.blocked or record in enabled:
            continue
        if earliest is None or deadline < earliest:
            earliest = deadline
            found = [record]
        elif deadline == earliest:
            found.append(record)
    return found
