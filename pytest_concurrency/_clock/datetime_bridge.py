"""``datetime.now()`` / ``utcnow()`` / ``date.today()`` on virtual time, through freezegun.

freezegun already fakes the ``datetime`` classes well; re-implementing that
would be duplicated effort with new bugs. So the clock starts
``freeze_time(<virtual now>, tick=False)`` *before* its own patches (its own
``time.*`` stand-ins then overwrite freezegun's, and are restored first: last
in, first out) and moves freezegun's frozen instant to the virtual wall time
every time virtual time moves. freezegun's fakes are process-wide, not
thread-scoped: ``datetime.now()`` follows the clock in every thread except in
the modules of its ignore list (the harness, this package).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from pytest_concurrency._clock.timeline import WallRange
from pytest_concurrency._patching import Patcher

_real_datetime = datetime  # captured before freezegun swaps ``datetime.datetime``

#: the wall times ``datetime`` can show in every time zone while it is faked: its own
#: range, years 1 to 9999, less two days at each end for the UTC offsets
DATETIME_RANGE = WallRange(
    _real_datetime(1, 1, 3, tzinfo=timezone.utc).timestamp(),
    _real_datetime(9999, 12, 29, tzinfo=timezone.utc).timestamp(),
    "0001-01-03 to 9999-12-29 UTC",
    "what datetime can show; FakeClock(datetime=False) fakes time.* only, without that limit",
)


def local_offset(wall: float) -> timedelta:
    """The local UTC offset at ``wall``, so naive ``now()`` matches ``fromtimestamp(time())``."""
    offset = _real_datetime.fromtimestamp(wall).astimezone().utcoffset()
    return offset if offset is not None else timedelta(0)


_REAL_TIME_NAMES = (
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "time",
    "time_ns",
)


def import_freezegun() -> Any:
    """freezegun, imported while the ``time`` module is real.

    freezegun keeps the ``time`` functions it finds at import as the "real"
    ones and puts them back when it stops. Imported for the first time while a
    fake clock or an exploration had ``time.monotonic`` patched, it would put
    the patch back for good after every later freeze: so the real functions
    are in place for the import, whatever is installed now.
    """
    loaded = sys.modules.get("freezegun")
    if loaded is not None:
        return loaded
    import time as time_module

    from pytest_concurrency import _realtime

    patched = {name: getattr(time_module, name) for name in _REAL_TIME_NAMES}
    try:
        for name in _REAL_TIME_NAMES:
            setattr(time_module, name, getattr(_realtime, name))
        import freezegun
    finally:
        for name, value in patched.items():
            setattr(time_module, name, value)
    return freezegun


class DatetimeBridge:
    """A running ``freezegun.freeze_time`` kept at the virtual wall time."""

    def __init__(self, wall: float, ignore: list[str]) -> None:
        self._wall = wall
        self._ignore = ignore
        self._freezer: Any = None
        self._factory: Any = None

    def start(self) -> None:
        freezegun = import_freezegun()
        self._freezer = freezegun.freeze_time(
            _utc(self._wall), tz_offset=local_offset(self._wall), tick=False, ignore=self._ignore
        )
        self._factory = self._freezer.start()

    def sync(self, wall: float) -> None:
        """Move freezegun's frozen instant to ``wall`` (virtual epoch seconds)."""
        if self._factory is not None:
            self._factory.move_to(_utc(wall))

    def stop(self) -> None:
        freezer, self._freezer, self._factory = self._freezer, None, None
        if freezer is not None:
            freezer.stop()


def _utc(wall: float) -> datetime:
    return _real_datetime.fromtimestamp(wall, timezone.utc)


def follow_run(patcher: Patcher, run_clock: Any) -> None:
    """While freezegun is frozen, make ``datetime.now()`` in a run's threads read the run's clock.

    freezegun's fakes ask ``freezegun.api.get_current_time()`` (a module global,
    looked up at every call) for the frozen instant; for a controlled thread of
    the run it becomes the run's virtual wall time, so ``datetime.now()``
    starts where the fake clock around the exploration stood and moves with
    the run's sleeps and timeouts. ``run_clock()`` returns the run's clock for
    a controlled caller, else None. Nothing to do when freezegun is not in use.
    """
    api = sys.modules.get("freezegun.api")
    if api is None:
        return
    original = api.get_current_time

    def get_current_time() -> datetime:
        clock = run_clock()
        if clock is None:
            return original()  # type: ignore[no-any-return]
        return _utc(clock.wall_time()).replace(tzinfo=None)

    patcher.setattr(api, "get_current_time", get_current_time)
