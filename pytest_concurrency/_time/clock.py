"""The clock abstraction both drivers of virtual time implement.

trio's design: the runtime consults one ``Clock`` (``current_time()``,
``deadline_to_sleep_time()``) and whoever drives it decides how time moves.
Here there are two drivers. Inside an interleavings run the *scheduler* drives
it: time jumps to the earliest deadline when every controlled thread is
blocked. On real threads :class:`~pytest_concurrency.FakeClock` drives it: the
test's ``advance()`` moves it, or an autojump when everyone is parked.

A :class:`StartPoint` says where a run's clock starts. With a fake clock
installed around an exploration, every run starts at that clock's current
reading (and every run at the same one, so runs stay deterministic); without
one, at a fixed instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """What the time replacements read and the waits measure their deadlines against."""

    def current_time(self) -> float:
        """Virtual ``time.monotonic()``."""
        ...

    def wall_time(self) -> float:
        """Virtual ``time.time()`` (epoch seconds)."""
        ...

    def perf_time(self) -> float:
        """Virtual ``time.perf_counter()``."""
        ...

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Real seconds a waiter should block for a virtual ``deadline`` (0: never for real)."""
        ...


#: virtual ``time.monotonic()`` when a run starts without a fake clock around it
DEFAULT_MONOTONIC = 100_000.0
#: virtual ``time.time()`` then: 2026-01-01T00:00:00Z
DEFAULT_WALL = 1_767_225_600.0


@dataclass(frozen=True)
class StartPoint:
    """The readings a run's virtual clock starts from; all three move together."""

    monotonic: float = DEFAULT_MONOTONIC
    wall: float = DEFAULT_WALL
    perf: float = DEFAULT_MONOTONIC

    @classmethod
    def of(cls, clock: Clock) -> StartPoint:
        """The current readings of ``clock``."""
        return cls(clock.current_time(), clock.wall_time(), clock.perf_time())


#: where a run starts when no fake clock is installed around it
DEFAULT_START = StartPoint()
