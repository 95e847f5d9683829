"""Who wants to know how explorations go: the listeners of a process's explorations.

``run_exploration`` wraps its loop in :func:`watching`, which gives it an
:class:`Exploration` record; the loop calls :meth:`Exploration.ran` after
every schedule. That call costs one clock read and one comparison; at most
every :data:`PROGRESS_INTERVAL` seconds it tells the listeners (a live
progress line), and once the exploration ends it tells them again (a
session's summary). With no listener subscribed nothing else happens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pytest_concurrency import _realtime

if TYPE_CHECKING:
    from pytest_concurrency.world.strategies import ExplorationStrategy

#: real seconds between two progress notifications of one exploration
PROGRESS_INTERVAL = 0.5

#: the clock of the progress notifications (a test may swap it for a fake one)
_now = _realtime.perf_counter


@dataclass
class Exploration:
    """One exploration as it runs: its strategy, the schedules so far, the time spent.

    ``covered`` is the fraction of the space explored (0..1), for strategies
    that know it (dfs), else None. ``finished`` turns True when it ends,
    whether it found a failure or not. ``shard`` is the part of the space it
    explores, ``(index, count)``, or None for all of it; then ``exhausted``
    says that this part is covered.
    """

    strategy: str
    #: the run cap it was given (None: none)
    runs: int | None
    started: float
    schedules: int = 0
    elapsed: float = 0.0
    covered: float | None = None
    exhausted: bool = False
    finished: bool = False
    #: what a scheduling point was ("memory", "sync", "line", "opcode")
    granularity: str = "sync"
    #: the preemption bound of dfs and dpor (None: none)
    preemption_bound: int | None = None
    #: dpor: the equivalence classes run so far (None for the other strategies)
    classes: int | None = None
    #: True when it ended with a failure (or an interrupt) rather than a pass
    failed: bool = False
    shard: tuple[int, int] | None = None
    _next_notice: float = field(default=0.0, repr=False)

    def ran(self, schedules: int, strategy: ExplorationStrategy) -> None:
        """After each schedule: ``schedules`` so far; tells the listeners now and then."""
        self.schedules = schedules
        now = _now()
        if now < self._next_notice:
            return
        self._next_notice = now + PROGRESS_INTERVAL
        self.elapsed = now - self.started
        self.covered = strategy.covered()
        for listener in tuple(_LISTENERS):
            listener.exploration_progress(self)

    @property
    def rate(self) -> float:
        """Schedules per real second so far (0 before any time has passed)."""
        return self.schedules / self.elapsed if self.elapsed > 0 else 0.0


class ExplorationListener(Protocol):
    """What a subscriber of :func:`subscribe` implements."""

    def exploration_started(self, exploration: Exploration) -> None: ...

    def exploration_progress(self, exploration: Exploration) -> None: ...

    def exploration_finished(self, exploration: Exploration) -> None: ...


_LISTENERS: list[ExplorationListener] = []


def subscribe(listener: ExplorationListener) -> None:
    """Tell ``listener`` about every later exploration of this process."""
    _LISTENERS.append(listener)


def unsubscribe(listener: ExplorationListener) -> None:
    """Stop telling ``listener`` (a listener never subscribed is ignored)."""
    with contextlib.suppress(ValueError):
        _LISTENERS.remove(listener)


@contextlib.contextmanager
def watching(
    strategy: ExplorationStrategy,
    runs: int | None,
    granularity: str = "sync",
    preemption_bound: int | None = None,
    shard: tuple[int, int] | None = None,
) -> Iterator[Exploration]:
    """The record of one exploration (of ``shard`` of the space), started now, finished when
    the block ends."""
    started = _now()
    exploration = Exploration(
        strategy.name,
        runs,
        started,
        granularity=granularity,
        preemption_bound=preemption_bound,
        shard=shard,
        _next_notice=started + PROGRESS_INTERVAL,
    )
    for listener in tuple(_LISTENERS):
        listener.exploration_started(exploration)
    try:
        yield exploration
    except BaseException:
        exploration.failed = True
        raise
    finally:
        exploration.elapsed = _now() - started
        exploration.exhausted = strategy.exhausted
        exploration.covered = strategy.covered()
        exploration.classes = getattr(strategy, "classes", None)
        exploration.finished = True
        for listener in tuple(_LISTENERS):
            listener.exploration_finished(exploration)
