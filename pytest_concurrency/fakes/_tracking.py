"""Teardown for gated fakes: open every gate and report callers a test left blocked.

A test that ends while a caller still waits at a closed gate has a bug (it
forgot to open the gate, or it asserted before the overlap it meant to build).
Left alone, that caller's thread would sit there for ``block_timeout`` seconds
and then fail somewhere unrelated. So the fixtures track every fake they make;
at teardown :meth:`FakeTracker.finish` opens all the gates, lets the held
callers leave, and returns a message saying how many were blocked and where
they called from, which the fixture turns into a test failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pytest_concurrency import _realtime
from pytest_concurrency._checks import check_seconds
from pytest_concurrency.fakes._callers import BlockedCaller
from pytest_concurrency.fakes._gated import GateControls

P = ParamSpec("P")
F = TypeVar("F", bound=GateControls)


class FakeTracker:
    """The gated fakes one fixture made for one test.

    Args:
        kind: the fixture name, used in the report (``"gated_fake"``).
        root: paths in the report are shown relative to it (the rootdir).
        settle_timeout: real seconds, in all, to wait for released callers to
            leave before reporting.
    """

    def __init__(
        self,
        kind: str,
        *,
        root: str | os.PathLike[str] | None = None,
        settle_timeout: float = 1.0,
    ) -> None:
        self.kind = kind
        self.root = root
        self.settle_timeout = check_seconds("settle_timeout", settle_timeout, allow_zero=True)
        self._lock = _realtime.allocate_lock()
        self._fakes: list[GateControls] = []

    def track(self, fake: F) -> F:
        """Remember ``fake`` for :meth:`finish`; return it."""
        with self._lock:
            self._fakes.append(fake)
        return fake

    def factory(self, make: Callable[P, F]) -> Callable[P, F]:
        """Wrap a constructor so that every fake it makes is tracked."""

        def tracked(*args: P.args, **kwargs: P.kwargs) -> F:
            return self.track(make(*args, **kwargs))

        return tracked

    def finish(self) -> str | None:
        """Open every gate, wait (bounded) for held callers to leave, report them.

        Returns None when no caller was blocked, else one line per fake that
        held some. Every gate is open afterwards either way.
        """
        with self._lock:
            fakes = list(self._fakes)
        # open all gates before waiting on any: a released caller may go on to
        # call another fake of the same test
        held = [(fake, fake.gate.open_for_teardown()) for fake in fakes]
        deadline = _realtime.monotonic() + self.settle_timeout
        lines = []
        for index, (fake, callers) in enumerate(held, 1):
            if not callers:
                continue
            fake.gate.wait_idle(max(0.0, deadline - _realtime.monotonic()))
            lines.append(self._line(index, fake, callers))
        if not lines:
            return None
        lines.append(
            "(every gate is open now; open or release the gates, and join the callers, "
            "before the test ends)"
        )
        return "\n".join(lines)

    def _line(self, index: int, fake: GateControls, callers: list[BlockedCaller]) -> str:
        label = f"{self.kind} {fake.name!r}" if fake.name is not None else f"{self.kind} #{index}"
        count = len(callers)
        noun = "caller" if count == 1 else "callers"
        where = "; ".join(caller.describe(self.root) for caller in callers)
        return f"{label} still had {count} blocked {noun} at teardown: {where}"
