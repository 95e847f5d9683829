"""What every gated fake shares: the gate controls a test uses, and the call log.

:class:`GateControls` forwards the test-facing gate API to the fake's
:class:`~pytest_concurrency.fakes.Gate`, so ``fake.open()`` reads naturally and
the gate logic exists once. :class:`CallLog` records calls on arrival, before a
caller can block, so a test can assert on who arrived while they still wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_concurrency import _realtime

if TYPE_CHECKING:
    from unittest.mock import _Call

    from pytest_concurrency.fakes._gate import Gate


class GateControls:
    """The gate API of a gated fake: open, close, release, wait, and its counters."""

    gate: Gate
    name: str | None

    def open(self) -> None:
        """Let every waiting caller through, and every later one until :meth:`close`."""
        self.gate.open()

    def close(self) -> None:
        """Make later callers wait again (the gate's initial state unless ``opened=True``)."""
        self.gate.close()

    def release(self, n: int = 1) -> None:
        """Let exactly ``n`` callers through: those waiting first, then the next to arrive."""
        self.gate.release(n)

    def wait_for_callers(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` callers are inside or waiting at once; False on timeout."""
        return self.gate.wait_for_callers(n, timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every caller has returned; False if some remain after ``timeout`` s."""
        return self.gate.wait_idle(timeout)

    @property
    def is_open(self) -> bool:
        """True while callers go straight through."""
        return self.gate.is_open

    @property
    def blocked(self) -> int:
        """Callers waiting at the gate right now."""
        return self.gate.blocked

    @property
    def in_flight(self) -> int:
        """Callers that arrived and have not returned yet (waiting, or running the effect)."""
        return self.gate.in_flight

    @property
    def max_in_flight(self) -> int:
        """The high-water mark of :attr:`in_flight`: how many callers overlapped at most."""
        return self.gate.max_in_flight


def gate_label(kind: str, name: str | None) -> str:
    """How messages name a fake: ``GatedFake 'loader'`` or ``unnamed GatedFake``."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {name!r}")
    return f"{kind} {name!r}" if name is not None else f"unnamed {kind}"


class CallLog:
    """A thread-safe list of ``unittest.mock.call`` records, in arrival order."""

    def __init__(self) -> None:
        self._lock = _realtime.allocate_lock()
        self._calls: list[_Call] = []

    def record(self, entry: _Call) -> None:
        with self._lock:
            self._calls.append(entry)

    def snapshot(self) -> list[_Call]:
        """A copy: the caller may keep it while more calls arrive."""
        with self._lock:
            return list(self._calls)

    def __len__(self) -> int:
        return len(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
