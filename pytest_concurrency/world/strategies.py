"""Who runs next: random, PCT and bounded DFS, plus replaying a recorded schedule.

A strategy is consulted only at points where more than one thread is enabled;
``enabled`` is always in creation order and ``current`` is the thread that was
running if it could go on (None when it just blocked or finished). All
randomness comes from one ``random.Random(seed)`` per exploration, so the same
seed explores the same schedules in any process.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence

from pytest_concurrency.world.scheduler import ScheduleMismatch, ThreadRecord
from pytest_concurrency.world.shards import PrefixOwner, Shard, prefix_owner, shard_seed

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
    #: True when the run just ended only walked through a part of the space that another
    #: shard owns (see .shards): the explorer neither counts nor reports it
    discovering = False

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


def _bounded_subtree(points: int, preemptions: int, width: int) -> int:
    """About how many schedules place at most ``preemptions`` among ``points`` choice points."""
    return sum(math.comb(points, k) * (width - 1) ** k for k in range(preemptions + 1))


class _Frame:
    """One choice point of the DFS stack."""

    __slots__ = ("below", "chosen", "current", "enabled", "mass", "preemptions", "tried")

    def __init__(
        self, enabled: tuple[int, ...], current: int, chosen: int, preemptions: int
    ) -> None:
        self.enabled = enabled
        self.current = current
        self.chosen = chosen
        self.tried = [chosen]
        self.preemptions = preemptions
        # kept for a shard only (see .shards), once the run that made the frame is over: the
        # points below it on that run where a running thread could be preempted, and the
        # estimated share of the tree below it
        self.below = 0
        self.mass = -1.0

    def cost(self, index: int) -> int:
        """Preemptions of the path up to here and then choosing ``index``."""
        return self.preemptions + (self.current != -1 and index != self.current)

    def allowed(self, bound: int) -> int:
        """How many of the choices here are within ``bound``."""
        return sum(1 for index in self.enabled if self.cost(index) <= bound)

    def share(self, index: int, bound: int) -> float:
        """The estimated share of this frame's subtree below choosing ``index`` here.

        Within a preemption bound, a choice that preempts leaves one preemption
        fewer for the ``below`` points still to come where a running thread
        could be preempted, and so a far smaller subtree: with ``r``
        preemptions left and ``m`` such points, about
        ``sum(comb(m, k) * (w - 1) ** k for k <= r)`` schedules, ``w`` threads
        to choose from at each (the ways to place the preemptions; the points
        where no thread was running multiply every choice's subtree alike).
        Unbounded, every choice is taken as alike.
        """
        choices = [other for other in self.enabled if self.cost(other) <= bound]
        left = bound - self.preemptions
        if left > self.below:  # the bound cannot cut any subtree here
            return 1 / len(choices)
        weights = {
            other: _bounded_subtree(self.below, bound - self.cost(other), len(self.enabled))
            for other in choices
        }
        return weights[index] / sum(weights.values())

    def next_alternative(self, bound: int) -> int | None:
        for index in self.enabled:
            if index in self.tried:
                continue
            if self.cost(index) <= bound:
                return index
        return None


class DFSStrategy(ExplorationStrategy):
    """Exhaustive depth-first search of schedules with at most ``bound`` preemptions (CHESS).

    A preemption is switching away from a thread that could have gone on. Each
    run replays the prefix of the previous one up to its deepest choice point
    that still has an untried alternative within the bound, takes that
    alternative, then continues by default (keep the current thread, else the
    first enabled one). When no alternative is left the space is exhausted.

    With an ``owner`` (one shard of a split exploration, see :mod:`.shards`),
    the runs below a prefix the shard does not own are replaced by one
    discovery run through it.
    """

    name = "dfs"

    def __init__(self, bound: int, owner: PrefixOwner | None = None) -> None:
        self._bound = bound
        self._owner = owner
        self._frames: list[_Frame] = []
        self._position = 0
        self._preemptions = 0
        self._started = False
        #: the run under way went down a new prefix (whose owner is decided once it is over)
        self._new_prefix = False

    def begin_run(self) -> bool:
        self._position = 0
        self._preemptions = 0
        owner = self._owner
        if not self._started:
            self._started = True
            self._new_prefix = True
            return True
        frames = self._frames
        while frames:
            frame = frames[-1]
            alternative = frame.next_alternative(self._bound)
            if alternative is not None:
                frame.tried.append(alternative)
                frame.chosen = alternative
                self._new_prefix = owner is not None and owner.shared(frame.mass)
                return True
            frames.pop()
        self.exhausted = True
        return False

    def end_run(self, choice_count: int) -> None:
        owner = self._owner
        if owner is None:
            return
        frames = self._frames
        self._weigh(frames)
        if self._new_prefix:
            self.discovering = not owner.enter()
        if self.discovering:
            # the tree below a prefix another shard owns: forget it, go on to the next prefix
            below = next((n for n, f in enumerate(frames) if not owner.shared(f.mass)), None)
            if below is not None:
                del frames[below:]

    def _weigh(self, frames: list[_Frame]) -> None:
        """The mass of each frame this run made (the same in every shard: see .shards)."""
        preemptible = 0  # points below where a thread could be preempted, counted from the end
        for depth in range(len(frames) - 1, -1, -1):
            frame = frames[depth]
            if frame.mass < 0:
                frame.below = preemptible
            preemptible += frame.current != -1
        for depth, frame in enumerate(frames):
            if frame.mass >= 0:
                continue
            if depth == 0:
                frame.mass = 1.0
            else:
                parent = frames[depth - 1]
                frame.mass = parent.mass * parent.share(parent.chosen, self._bound)

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
            allowed = max(frame.allowed(bound), len(frame.tried))
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
    name: str,
    *,
    seed: int,
    depth: int,
    preemption_bound: int | None,
    shard: Shard | None = None,
) -> ExplorationStrategy:
    """The strategy called ``name`` (validated by the caller), for ``shard`` of the space."""
    if name == "dpor":
        from pytest_concurrency.world.dpor import DPORStrategy
        from pytest_concurrency.world.dpor_shards import ShardedDPOR

        owner = prefix_owner(shard)
        if owner is not None:
            return ShardedDPOR(preemption_bound, owner)
        return DPORStrategy(preemption_bound)
    if name == "random":
        return RandomStrategy(shard_seed(seed, shard))
    if name == "pct":
        return PCTStrategy(shard_seed(seed, shard), depth)
    bound = sys.maxsize if preemption_bound is None else preemption_bound
    return DFSStrategy(bound, owner=prefix_owner(shard))
