"""The leak checker: a baseline at ``start()``, a report at ``finish()``.

Usable without pytest::

    checker = LeakChecker("threads,fds").start()
    run_the_code()
    report = checker.finish()
    assert not report, report.format()

or as a context manager, after which ``checker.report`` holds the result.
Every global a detector wraps (``Thread.start``, :mod:`tempfile`'s creators)
goes through one :class:`~pytest_concurrency._patching.Patcher`, restored by
:meth:`~LeakChecker.finish` (or :meth:`~LeakChecker.abort`) whatever happens.
Checkers nest: finish them in the reverse order of their starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from pytest_concurrency import _realtime
from pytest_concurrency._checks import check_seconds
from pytest_concurrency._patching import Patcher
from pytest_concurrency.leaks.core import Leak, LeakReport
from pytest_concurrency.leaks.kinds import ALL, detector_for, parse_kinds
from pytest_concurrency.leaks.registries import KIND as REGISTRIES
from pytest_concurrency.leaks.registries import RegistryWatcher, Watch

#: seconds a check waits, by default, for threads and processes that are finishing
DEFAULT_GRACE = 0.5


class LeakChecker:
    """Checks that the code run between :meth:`start` and :meth:`finish` leaves nothing behind.

    ``kinds`` as :func:`~pytest_concurrency.leaks.parse_kinds` (default every
    kind); ``grace`` is how long :meth:`finish` waits, in real seconds, for
    threads and child processes that are on their way out before calling them
    leaked. Registries are added with :meth:`watch`.
    """

    def __init__(self, kinds: str | Iterable[str] = ALL, *, grace: float = DEFAULT_GRACE) -> None:
        self.kinds = parse_kinds(kinds)
        self.grace = check_seconds("grace", grace)
        self.report: LeakReport | None = None
        self._detectors = [detector_for(kind) for kind in self.kinds]
        self._registries = RegistryWatcher()
        self._patcher = Patcher()
        self._started = False

    def __repr__(self) -> str:
        state = "finished" if self.report else "started" if self._started else "new"
        return f"LeakChecker(kinds={self.kinds!r}, grace={self.grace}, {state})"

    def start(self) -> LeakChecker:
        """Take the baseline of every kind (and install the recorders); returns ``self``."""
        if self._started:
            raise RuntimeError("this LeakChecker was already started; make a new one per check")
        self._started = True
        try:
            for detector in self._detectors:
                detector.start(self._patcher)
        except BaseException:
            self._patcher.restore()
            raise
        return self

    def watch(self, obj: object, name: str | None = None, max_growth: int = 0) -> Watch:
        """Watch a registry, checked at :meth:`finish`; see :meth:`RegistryWatcher.watch`."""
        return self._registries.watch(obj, name, max_growth)

    def finish(self, grace: float | None = None) -> LeakReport:
        """Compare with the baseline and return the report; always removes the recorders.

        ``grace`` overrides the checker's grace period for this call.
        """
        if not self._started:
            raise RuntimeError("finish() called before start()")
        if self.report is not None:
            return self.report
        wait = self.grace if grace is None else check_seconds("grace", grace)
        deadline = _realtime.monotonic() + wait
        leaks: list[Leak] = []
        notes: list[str] = []
        try:
            for detector in self._detectors:
                findings = detector.finish(deadline)
                leaks.extend(findings.leaks)
                notes.extend(findings.notes)
            leaks.extend(self._registries.check())
        finally:
            self._patcher.restore()
        kinds = self.kinds + ((REGISTRIES,) if self._registries.watches else ())
        self.report = LeakReport(tuple(leaks), kinds, tuple(notes), wait)
        return self.report

    def abort(self) -> None:
        """Remove the recorders without checking (a safety net; idempotent)."""
        self._patcher.restore()

    def __enter__(self) -> LeakChecker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish()
        else:  # the block failed: its error matters more than a report nobody will read
            self.abort()
