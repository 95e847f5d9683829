"""asyncio on the fake clock: selectors that jump instead of sleeping.

``loop.time()`` reads ``time.monotonic()`` at call time, so a loop running in
an in-scope thread already *reads* virtual time. What still takes real time is
the wait: ``_run_once`` hands the time until the next timer to
``selector.select(timeout)`` (3.10-3.13). So while a clock is installed the
``select`` of every stdlib selector class is wrapped -- class attributes, so
loops created before the clock follow it too. In scope, a timed ``select``
first polls for I/O; when nothing is ready it parks on the clock with the
timeout as a virtual deadline while still watching its file descriptors (real
I/O and ``call_soon_threadsafe`` wake it at once). A resolved deadline (an
``advance()``, an autojump) writes to a private socket pair registered in the
selector for the duration of the park, so that wake-up is event-driven too.

In the driver thread (``asyncio.run`` in the test body) this is autojump: when
every other in-scope thread is parked, virtual time jumps to the earliest
deadline and ``asyncio.sleep(480)`` returns at once. Selectors called from
real-time modules (``subprocess``, ``socketserver``: see :mod:`.harness`) and
from the ``selectors`` module itself keep real timeouts.
"""

from __future__ import annotations

import selectors
import socket
import weakref
from collections.abc import Callable
from typing import Any

from pytest_concurrency._clock import scoped
from pytest_concurrency._clock.timeline import Timeline
from pytest_concurrency._patching import Patcher

SelectResult = list[tuple[selectors.SelectorKey, int]]
RealSelect = Callable[[Any, "float | None"], SelectResult]

_WAKE = object()
_WAKEUP_ATTR = "_pytest_concurrency_clock_wakeup"
_SELECTOR_NAMES = (
    "SelectSelector",
    "PollSelector",
    "EpollSelector",
    "DevpollSelector",
    "KqueueSelector",
)
_CONCRETE = tuple(
    cls for name in _SELECTOR_NAMES if (cls := getattr(selectors, name, None)) is not None
)


def _select_owners() -> list[type]:
    """The classes that define the ``select`` the concrete selectors use."""
    owners: list[type] = []
    for cls in _CONCRETE:
        owner = next(klass for klass in cls.__mro__ if "select" in vars(klass))
        if owner not in owners:
            owners.append(owner)
    return owners


def _wakeup(selector: Any) -> tuple[socket.socket, socket.socket]:
    """The selector's private socket pair, made once and closed with the selector object."""
    pair: tuple[socket.socket, socket.socket] | None = selector.__dict__.get(_WAKEUP_ATTR)
    if pair is None:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        pair = (reader, writer)
        selector.__dict__[_WAKEUP_ATTR] = pair
        weakref.finalize(selector, _close_pair, reader, writer)
    return pair


def _close_pair(reader: socket.socket, writer: socket.socket) -> None:
    reader.close()
    writer.close()


def _strip(events: SelectResult) -> SelectResult:
    return [event for event in events if event[0].data is not _WAKE]


def _virtual_select(
    selector: Any, real: RealSelect, timeline: Timeline, timeout: float | None
) -> SelectResult:
    ready = real(selector, 0)
    if ready:
        return ready
    reader, writer = _wakeup(selector)

    def wake() -> None:  # called by the timeline, under its lock, when the deadline resolves
        try:
            writer.send(b"\0")
        except OSError:  # buffer full: already awake
            pass

    def nothing_ready() -> bool:
        # asked by autojump from any thread: a thread that handed this loop work
        # (``call_soon_threadsafe`` writes its self-pipe) and then parked must not
        # make time jump before the loop has seen that work
        try:
            return not _strip(real(selector, 0))
        except (OSError, ValueError, KeyError):  # closed or changed meanwhile
            return True

    selector.register(reader, selectors.EVENT_READ, _WAKE)
    try:
        waiter = timeline.prepare(
            "asyncio event loop",
            timeout,
            wake=wake,
            interruptible=True,
            blocked=nothing_ready,
        )
        events: SelectResult = []

        def wait(slice_: float | None) -> bool:
            nonlocal events
            events = _strip(real(selector, slice_))
            return bool(events) or waiter.outcome is not None

        timeline.park(waiter, wait, real_budget=timeout)
        return events
    finally:
        selector.unregister(reader)
        try:
            reader.recv(4096)
        except OSError:  # nothing to drain
            pass


def _wrap(real: RealSelect) -> Callable[..., SelectResult]:
    def select(self: Any, timeout: float | None = None) -> SelectResult:
        timeline = scoped.current()
        if (
            timeline is None
            or (timeout is not None and timeout <= 0)
            or scoped.caller_keeps_real_time(1)
            or scoped.caller_module(1) == "selectors"
        ):
            return real(self, timeout)
        return _virtual_select(self, real, timeline, timeout)

    select.__doc__ = real.__doc__
    select.__qualname__ = getattr(real, "__qualname__", "select")
    return select


def install(patcher: Patcher) -> None:
    for owner in _select_owners():
        patcher.setattr(owner, "select", _wrap(vars(owner)["select"]))
