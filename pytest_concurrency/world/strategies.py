"""Who runs next: random, PCT and bounded DFS, plus replaying a recorded schedule.

A strategy is consulted only at points where more than one thread is enabled;
``enabled`` is always in creation order and ``current`` is the thread that was
running if it could go on (None when it just blocked or finished). All
randomness comes from one ``random.Random(seed)`` per exploration, so the same
seed explores the same schedules in any process.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from pytest_concurrency.world.scheduler import ScheduleMismatch, ThreadRecord

#: the strategy options each strategy reads, by strategy name (``explore(strategy=...)``):
#: an option of this table that the chosen strategy does not read is refused when
#: given, never silently ignored (see ``ExploreOptions.create``)
STRATEGY_OPTIONS: dict[str, frozenset[str]] = {
    "random": frozenset({"seed"}),
    "pct": frozenset({"seed", "depth"}),
    "dfs": frozenset({"preemption_bound"}),
    "dpor": frozenset({"preemption_bound"}),
}
#: names accepted by ``explore(strategy=...)``
STRATEGIES = tuple(STRATEGY_OPTIONS)


def uses(strategy: str, option: str) -> bool:
    """True when ``strategy`` reads the strategy option ``option`` (see STRATEGY_OPTIONS)."""
    return option in STRATEGY_OPTIONS[strategy]


def check_strategy_options(strategy: str, given: Mapping[str, object]) -> None:
    """Refuse strategy options given (by the caller, not defaulted) that ``strategy`` ignores.

    ``given`` maps option names to the values written; names outside the table
    (``runs``, ``granularity``, ...) concern every strategy and pass.
    """
    known = frozenset().union(*STRATEGY_OPTIONS.values())
    unused = sorted(name for name in given if name in known and not uses(strategy, name))
    if not unused:
        return
    listed = " and ".join(
        f"{name}={given[name]!r} (read by strategy "
        f"{' and '.join(repr(other) for other in strategies_using(name))})"
        for name in unused
    )
    its = "it" if len(unused) == 1 else "them"
    reads = ", ".join(sorted(STRATEGY_OPTIONS[strategy])) or "no strategy option"
    raise ValueError(
        f"strategy={strategy!r} does not use {listed}: remove {its}, or choose a strategy "
        f"that uses {its} (strategy={strategy!r} reads {reads})"
    )


def strategies_using(option: str) -> tuple[str, ...]:
    """The strategies that read ``option``, in table order."""
    return tuple(name for name, options in STRATEGY_OPTIONS.items() if option in options)


class ExplorationStrategy:
    """The interface the explorer drives: one ``begin_run``/``end_run`` pair per schedule."""

    name = ""
    #: True once a systematic strategy has covered its whole space
    exhausted = False

    def begin_run(self) -> bool:
        """Prepare the next schedule; False when there is none left."""
        return True

    def end_run(self, choice_count: int) -> None:
        """The run made ``choice_count`` choices."""

    def covered(self) -> float | None:
        """The fraction (0..1) of the space explored so far, when the strategy knows it."""
        return None

    def thread_created(self, index: int) -> None:
        """Thread ``index`` (0, 1, 2, ... in creation order) was registered."""

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        raise NotImplementedError

    def choose_step(self, enabled: list[ThreadRecord], default: ThreadRecord) -> ThreadRecord:
        """A choice at an asyncio loop (see :mod:`.aio`): which ready task steps next.

        No actor is *running* there -- each step ran to an await -- so
        ``default`` is the one asyncio itself would run (the oldest ready
        callback's) and counts as the running one; a strategy for which that
        differs from a thread's choice overrides this.
        """
        return self.choose(enabled, default)


class RandomStrategy(ExplorationStrategy):
    """Uniformly random among the enabled threads at every choice point."""

    name = "random"

    def __init__(self, seed: int) -> None:
        import random  # here: a dpor or dfs exploration never pays for its import

        self._rng = random.Random(seed)

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        return enabled[self._rng.randrange(len(enabled))]


class PCTStrategy(ExplorationStrategy):
    """Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte 2010).

    Each thread gets a random distinct priority >= ``depth`` when created; the
    highest-priority enabled thread always runs. ``depth - 1`` change points are
    drawn uniformly over the expected run length ``k`` (choice points, estimated
    from the longest run so far); at the i-th one the running thread's priority
    drops to ``i``. A bug of depth ``d`` is then found with probability at least
    ``1 / (n * k**(d-1))`` per run.
    """

    name = "pct"

    def __init__(self, seed: int, depth: int) -> None:
        import random  # here: a dpor or dfs exploration never pays for its import

        self._rng = random.Random(seed)
        self._depth = depth
        self._k = 16  # first guess; replaced by the longest run seen
        self._priorities: list[float] = []
        self._change_at: dict[int, int] = {}
        self._pending: list[int] = []
        self._choice = 0

    def begin_run(self) -> bool:
        self._priorities = []
        count = min(self._depth - 1, self._k)
        points = self._rng.sample(range(1, self._k + 1), count)
        self._change_at = {point: i for i, point in enumerate(points, start=1)}
        self._pending = []
        self._choice = 0
        return True

    def end_run(self, choice_count: int) -> None:
        self._k = max(self._k, choice_count)

    def thread_created(self, index: int) -> None:
        # distinct with probability 1, all above the change-point priorities 1..depth-1
        self._priorities.append(self._depth + self._rng.random())

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        self._count_choice()
        if current is not None and self._pending:
            # a change point met while no thread was running applies to the next one that is
            self._lower(current)
        return self._top(enabled)

    def choose_step(self, enabled: list[ThreadRecord], default: ThreadRecord) -> ThreadRecord:
        """At an asyncio loop nothing runs between steps: a change point delays the next one.

        Lowering the task that would step next is the asyncio analogue of
        preempting the running thread: its awaited future "completes later".
        """
        self._count_choice()
        if self._pending:
            self._lower(self._top(enabled))
        return self._top(enabled)

    def _count_choice(self) -> None:
        self._choice += 1
        lowered = self._change_at.get(self._choice)
        if lowered is not None:
            self._pending.append(lowered)

    def _lower(self, record: ThreadRecord) -> None:
        for value in self._pending:
            self._priorities[record.index] = value
        self._pending.clear()

    def _top(self, enabled: list[ThreadRecord]) -> ThreadRecord:
        priorities = self._priorities
        return max(enabled, key=lambda record: priorities[record.index])


class _Frame:
    """One choice point of the DFS stack."""

    __slots__ = ("chosen", "current", "enabled", "preemptions", "tried")

    def __init__(
        self, enabled: tuple[int, ...], current: int, chosen: int, preemptions: int
    ) -> None:
        self.enabled = enabled
        self.current = current
        self.chosen = chosen
        self.tried = [chosen]
        self.preemptions = preemptions

    def next_alternative(self, bound: int) -> int | None:
        for index in self.enabled:
            if index in self.tried:
                continue
            cost = self.preemptions + (self.current != -1 and index != self.current)
            if cost <= bound:
                return index
        return None


class DFSStrategy(ExplorationStrategy):
    """Exhaustive depth-first search of schedules with at most ``bound`` preemptions (CHESS).

    A preemption is switching away from a thread that could have gone on. Each
    run replays the prefix of the previous one up to its deepest choice point
    that still has an untried alternative within the bound, takes that
    alternative, then continues by default (keep the current thread, else the
    first enabled one). When no alternative is left the space is exhausted.
    """

    name = "dfs"

    def __init__(self, bound: int) -> None:
        self._bound = bound
        self._frames: list[_Frame] = []
        self._position = 0
        self._preemptions = 0
        self._started = False

    def begin_run(self) -> bool:
        self._position = 0
        self._preemptions = 0
        if not self._started:
            self._started = True
            return True
        frames = self._frames
        while frames:
            frame = frames[-1]
            alternative = frame.next_alternative(self._bound)
            if alternative is not None:
                frame.tried.append(alternative)
                frame.chosen = alternative
                return True
            frames.pop()
        self.exhausted = True
        return False

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        indices = tuple(record.index for record in enabled)
        running = current.index if current is not None else -1
        if self._position < len(self._frames):
            frame = self._frames[self._position]
            if frame.enabled != indices or frame.current != running:
                raise ScheduleMismatch(
                    f"replaying the same choices gave different enabled threads at choice "
                    f"{self._position + 1} ({_names(frame.enabled)} before, {_names(indices)} now)",
                    nondeterministic=True,
                )
            chosen = frame.chosen
        else:
            chosen = running if running != -1 else indices[0]
            self._frames.append(_Frame(indices, running, chosen, self._preemptions))
        self._position += 1
        if running != -1 and chosen != running:
            self._preemptions += 1
        return enabled[indices.index(chosen)]

    def covered(self) -> float | None:
        """An estimate: the branches finished at each choice point, as if subtrees were equal.

        Cheap enough for a progress display (one pass over the stack), not exact:
        later subtrees may be larger or smaller than the ones already done.
        """
        if self.exhausted:
            return 1.0
        done, weight = 0.0, 1.0
        bound = self._bound
        for frame in self._frames:
            allowed = sum(
                1
                for index in frame.enabled
                if frame.preemptions + (frame.current != -1 and index != frame.current) <= bound
            )
            allowed = max(allowed, len(frame.tried))
            done += weight * (len(frame.tried) - 1) / allowed
            weight /= allowed
        return min(done, 1.0)


class ReplayStrategy(ExplorationStrategy):
    """Follows a recorded list of choices exactly; any divergence is an error."""

    name = "replay"

    def __init__(self, choices: Sequence[int]) -> None:
        self._choices = tuple(choices)
        self._position = 0

    @property
    def leftover(self) -> int:
        """Recorded choices the run did not reach."""
        return len(self._choices) - self._position

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        position = self._position
        if position >= len(self._choices):
            raise ScheduleMismatch(
                f"the schedule has {len(self._choices)} choices but the scenario needs more",
                nondeterministic=False,
            )
        wanted = self._choices[position]
        for record in enabled:
            if record.index == wanted:
                self._position = position + 1
                return record
        raise ScheduleMismatch(
            f"choice {position + 1} of the schedule runs T{wanted}, but the enabled threads "
            f"there are {_names(tuple(r.index for r in enabled))}",
            nondeterministic=False,
        )


def _names(indices: tuple[int, ...]) -> str:
    return ", ".join("scenario" if i == 0 else f"T{i}" for i in indices)


def make_strategy(
    name: str, *, seed: int, depth: int, preemption_bound: int | None
) -> ExplorationStrategy:
    """The strategy called ``name`` (validated by the caller)."""
    if name == "dpor":
        from pytest_concurrency.world.dpor import DPORStrategy

        return DPORStrategy(preemption_bound)
    if name == "random":
        return RandomStrategy(seed)
    if name == "pct":
        return PCTStrategy(seed, depth)
    return DFSStrategy(sys.maxsize if preemption_bound is None else preemption_bound)
