"""Run guard: one run at a time, duplicate submissions rejected, stale slots released.

A generation service's guard stopped double submits from starting two
generation runs (two tabs, a re-POST, a stuck stream) with a process-wide
single-flight slot, a dedup window keyed by a fingerprint of
``(route, payload)``, and a watchdog that frees a slot held longer than
``MAX_RUN_SECS`` by a run that crashed without ``end_run``. This version keeps that design and
fixes what the original got wrong:

- **Monotonic time.** The original used ``time.time()``: setting the system
  clock back an hour made every dedup entry "recent" for an hour and made the
  watchdog wait an extra hour. Time here comes from an injected ``clock``,
  ``time.monotonic`` by default (looked up at call time).
- **Per instance, not module globals**, so two guards (or two tests) never
  share state, and the window and maximum age are constructor arguments
  instead of environment variables read at import.
- **Canonical fingerprints.** ``repr(payload)`` depends on dict insertion
  order, so ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` escaped dedup; the
  fingerprint here serialises JSON with sorted keys (``repr`` only for values
  JSON cannot express).
- **Bounded dedup memory.** Entries are kept in start order and expired from
  the front on every ``begin``, so the map holds only runs accepted inside the
  window.
- **Owner-checked, idempotent release** that tells the caller whether it
  released (``end`` returns True/False), and a ``running`` context manager that
  releases on every exit path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from ._clock import Clock, resolve_clock
from ._validation import require_seconds

logger = logging.getLogger(__name__)


def fingerprint(route: str, payload: object) -> str:
    """Return a stable hash of ``(route, payload)``; equal dicts hash equal in any order."""
    try:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):  # keys JSON cannot sort or express: fall back to repr
        body = repr(payload)
    raw = f"{route}|{body}".encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class ActiveRun:
    """The run holding the slot: who, what (its fingerprint) and when (on the guard's clock)."""

    operation_id: str
    fingerprint: str
    started_at: float


class RunRejected(Exception):
    """``begin`` refused a run.

    ``reason`` is ``"in_flight"`` (another run holds the slot: wait) or
    ``"duplicate"`` (the same request was accepted moments ago: do not resend);
    ``operation_id`` names the run in flight, when there is one.
    """

    def __init__(self, reason: str, message: str, operation_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.operation_id = operation_id


class RunGuard:
    """At most one accepted run at a time, with a dedup window and a stale-slot watchdog.

    Lock order: one internal lock, never held while a run executes.

    Invariants: at most one run holds the slot; a fingerprint accepted at time
    ``t`` is rejected as ``"duplicate"`` until ``t + dedup_window``; a slot older
    than ``max_run_seconds`` is released by the next ``begin`` (or ``current``);
    only the holder's ``operation_id`` releases the slot.
    """

    def __init__(
        self,
        dedup_window: float = 5.0,
        max_run_seconds: float = 1800.0,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._dedup_window = require_seconds("dedup_window", dedup_window, finite=False)
        self._max_run_seconds = require_seconds("max_run_seconds", max_run_seconds, finite=False)
        self._clock = resolve_clock(clock)
        self._lock = threading.Lock()
        self._active: ActiveRun | None = None
        self._recent: dict[str, float] = {}  # fingerprint -> start time, oldest first

    def begin(self, operation_id: str, route: str, payload: object) -> ActiveRun:
        """Take the slot for ``operation_id`` or raise :class:`RunRejected`."""
        if not isinstance(operation_id, str):
            raise TypeError(f"operation_id must be a str, got {operation_id!r}")
        if not isinstance(route, str):
            raise TypeError(f"route must be a str, got {route!r}")
        fp = fingerprint(route, payload)
        with self._lock:
            now = self._clock()
            self._expire_locked(now)
            if self._active is not None:
                raise RunRejected(
                    "in_flight",
                    f"another run is in progress (operation_id={self._active.operation_id})",
                    operation_id=self._active.operation_id,
                )
            accepted_at = self._recent.get(fp)
            if accepted_at is not None:
                raise RunRejected(
                    "duplicate",
                    f"an identical request was accepted {now - accepted_at:.1f}s ago",
                )
            run = self._active = ActiveRun(operation_id, fp, now)
            self._recent[fp] = now
            return run

    def end(self, operation_id: str) -> bool:
        """Release the slot if ``operation_id`` holds it; True if it did. Idempotent."""
        with self._lock:
            if self._active is not None and self._active.operation_id == operation_id:
                self._active = None
                return True
            return False

    def current(self) -> str | None:
        """Return the ``operation_id`` holding the slot, or None."""
        with self._lock:
            self._expire_locked(self._clock())
            return self._active.operation_id if self._active is not None else None

    @contextlib.contextmanager
    def running(self, operation_id: str, route: str, payload: object) -> Iterator[ActiveRun]:
        """``begin`` on entry (raising :class:`RunRejected`), ``end`` on every exit."""
        run = self.begin(operation_id, route, payload)
        try:
            yield run
        finally:
            self.end(operation_id)

    def _expire_locked(self, now: float) -> None:
        """Drop dedup entries past the window and a slot past its maximum age."""
        while self._recent:
            oldest, started = next(iter(self._recent.items()))
            if now - started < self._dedup_window:
                break
            del self._recent[oldest]
        if self._active is not None and now - self._active.started_at > self._max_run_seconds:
            logger.warning(
                "releasing run %s: held for more than %.0f s",
                self._active.operation_id,
                self._max_run_seconds,
            )
            self._active = None
