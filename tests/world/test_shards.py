"""explore(shard=(index, count)): the parts of one exploration, each run alone.

The strategies are driven here run by run, as the explorer drives them, so
that each run's choices and whether it was a discovery run (a walk through a
part another shard owns, not counted) can be seen. What must hold:

- dfs: the shards' counted schedules are a partition of the unsharded ones
  (disjoint, and together every one of them), so the counts add up exactly;
- dpor: together the shards reach every equivalence class the unsharded
  reduction reaches (checked on scenarios whose classes are known: the orders
  in which threads take a lock, and the outcomes of an unlocked race);
- a failing schedule is reported by exactly the shards that own one, and its
  token replays without any shard;
- random and pct: streams of their own per shard, sharing the runs budget.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from explained_subjects import run_threads

import pytest_concurrency as pc
from pytest_concurrency.world.exploration import tracing
from pytest_concurrency.world.options import ExploreOptions, check_replay_options
from pytest_concurrency.world.runner import run_schedule
from pytest_concurrency.world.shards import Shard, check_shard, share_of_runs, unsharded_nodeid
from pytest_concurrency.world.strategies import make_strategy

Outcomes = list[object]


@dataclass
class Walk:
    """What one driven exploration (one shard, or the whole) did."""

    #: the counted runs' choices, in order
    owned: list[tuple[int, ...]] = field(default_factory=list)
    #: the counted runs' outcomes (what the scenario appended)
    outcomes: list[object] = field(default_factory=list)
    #: the counted runs that failed
    failing: list[tuple[int, ...]] = field(default_factory=list)
    discovery: int = 0
    exhausted: bool = False
    classes: int | None = None


def _walk(
    make: Callable[[Outcomes], Callable[[], None]],
    strategy: str,
    shard: Shard | None,
    *,
    bound: int | None = None,
    limit: int = 20_000,
) -> Walk:
    outcomes: Outcomes = []
    scenario = make(outcomes)
    explorer = make_strategy(strategy, seed=0, depth=3, preemption_bound=bound, shard=shard)
    # dfs at sync granularity (memory would make its trees far larger), dpor at memory
    settings = ExploreOptions.create(strategy=strategy).run_settings(scenario)
    walk = Walk()
    with tracing(settings):
        while len(walk.owned) + walk.discovery < limit and explorer.begin_run():
            seen = len(outcomes)
            result = run_schedule(scenario, explorer, settings)
            explorer.end_run(len(result.choices))
            if explorer.discovering:  # decided once the run is over
                walk.discovery += 1
                continue
            walk.owned.append(result.choices)
            walk.outcomes.extend(outcomes[seen:])
            if result.failure is not None:
                walk.failing.append(result.choices)
    walk.exhausted = explorer.exhausted
    walk.classes = getattr(explorer, "classes", None)
    assert walk.exhausted, f"not exhausted within {limit} runs"
    return walk


def lock_orders(threads: int, sections: int = 1) -> Callable[[Outcomes], Callable[[], None]]:
    """Each thread takes one lock ``sections`` times: a class per order of the lock's holders."""

    def make(outcomes: Outcomes) -> Callable[[], None]:
        def scenario() -> None:
            lock = threading.Lock()
            order: list[int] = []

            def add(n: int) -> None:
                for _ in range(sections):
                    with lock:
                        order.append(n)

            run_threads(*(lambda n=n: add(n) for n in range(threads)))
            outcomes.append(tuple(order))

        return scenario

    return make


class Flags:
    def __init__(self) -> None:
        self.value = 0
        self.flag = False


def unlocked_flags(outcomes: Outcomes) -> Callable[[], None]:
    """Three threads race on two fields with no lock; what each reads depends on the order."""

    def scenario() -> None:
        shared = Flags()
        seen: list[int] = []

        def first() -> None:
            shared.value = 1
            if shared.flag:
                shared.value = 3

        def second() -> None:
            shared.flag = True
            seen.append(shared.value)

        def third() -> None:
            if shared.value == 1:
                shared.flag = False

        run_threads(first, second, third)
        outcomes.append((shared.value, shared.flag, tuple(seen)))

    return scenario


def _permutations_with_repeats(threads: int, sections: int) -> set[tuple[int, ...]]:
    items = [n for n in range(threads) for _ in range(sections)]
    return set(itertools.permutations(items))


# -- dfs: a partition ------------------------------------------------------------------------------


#: (threads, lock sections each, preemption bound) of the dfs trees split below: 13, 335
#: and 1,601 schedules
DFS_TREES = [(3, 2, 0), (3, 2, 1), (2, 1, None)]


@pytest.mark.parametrize(("threads", "sections", "bound"), DFS_TREES)
@pytest.mark.parametrize("count", [2, 3, 5])
def test_dfs_shards_partition_the_unsharded_schedules(
    threads: int, sections: int, bound: int | None, count: int
) -> None:
    make = lock_orders(threads, sections)
    whole = _walk(make, "dfs", None, bound=bound)
    parts = [_walk(make, "dfs", Shard(index, count), bound=bound) for index in range(count)]
    counted = [schedule for part in parts for schedule in part.owned]
    assert len(counted) == len(whole.owned)  # the counts add up exactly
    assert sorted(counted) == sorted(whole.owned)  # and they are the same schedules
    assert len(set(counted)) == len(counted)  # no schedule counted by two shards
    assert all(part.exhausted for part in parts)
    assert sum(1 for part in parts if part.owned) > 1  # split, not all in one shard


@pytest.mark.parametrize(("threads", "sections", "bound"), [(2, 1, None), (3, 2, 1)])
def test_dfs_parts_are_even_enough(threads: int, sections: int, bound: int | None) -> None:
    # within a preemption bound the tree is lopsided (a preemption early on leaves less to
    # explore below it): the split weighs subtrees by what the bound leaves of them
    parts = [
        _walk(lock_orders(threads, sections), "dfs", Shard(i, 3), bound=bound) for i in range(3)
    ]
    sizes = sorted(len(part.owned) for part in parts)
    assert sizes[0] >= sizes[-1] / 2, sizes  # no shard left with little to do
    assert all(part.discovery < len(part.owned) for part in parts)  # walks cost less


def test_one_shard_of_one_is_the_unsharded_exploration() -> None:
    for strategy, bound in (("dfs", 1), ("dpor", None)):
        whole = _walk(lock_orders(3), strategy, None, bound=bound)
        single = _walk(lock_orders(3), strategy, Shard(0, 1), bound=bound)
        assert single.owned == whole.owned
        assert single.discovery == 0


# -- dpor: every class ---------------------------------------------------------------------------


@pytest.mark.parametrize(("threads", "sections"), [(2, 2), (3, 1)])
@pytest.mark.parametrize("count", [2, 3])
def test_dpor_shards_reach_every_lock_order(threads: int, sections: int, count: int) -> None:
    make = lock_orders(threads, sections)
    every_order = _permutations_with_repeats(threads, sections)
    whole = _walk(make, "dpor", None)
    assert set(whole.outcomes) == every_order  # the classes, known in advance
    parts = [_walk(make, "dpor", Shard(index, count)) for index in range(count)]
    reached = set().union(*(set(part.outcomes) for part in parts))
    assert reached == every_order
    assert all(part.exhausted for part in parts)
    classes = [part.classes for part in parts]
    assert whole.classes is not None and None not in classes
    assert sum(c for c in classes if c is not None) >= whole.classes
    assert sum(1 for part in parts if part.owned) > 1  # split, not all in one shard


@pytest.mark.parametrize("count", [2, 3, 4])
def test_dpor_shards_reach_every_outcome_of_a_memory_race(count: int) -> None:
    whole = _walk(unlocked_flags, "dpor", None)
    parts = [_walk(unlocked_flags, "dpor", Shard(index, count)) for index in range(count)]
    reached = set().union(*(set(part.outcomes) for part in parts))
    assert reached == set(whole.outcomes)
    assert len(reached) > 3  # the race has several outcomes: a real check


# -- failures ------------------------------------------------------------------------------------


def rare_order(
    bad: tuple[int, ...], threads: int, sections: int = 1
) -> Callable[[Outcomes], Callable[[], None]]:
    """Fails for one order of the lock's holders (``bad``), passes for every other."""

    def make(outcomes: Outcomes) -> Callable[[], None]:
        inner = lock_orders(threads, sections)(outcomes)

        def scenario() -> None:
            inner()
            assert outcomes[-1] != bad, f"threads took the lock in the order {bad}"

        return scenario

    return make


def _explore(scenario: Callable[[], None], strategy: str, bound: int | None, shard: Shard) -> bool:
    """Did ``explore`` on ``shard`` report a failure?"""
    try:
        pc.explore(
            scenario,
            strategy=strategy,
            runs=None,
            preemption_bound=bound,
            shard=(shard.index, shard.count),
            **({"races": "ignore"} if strategy == "dpor" else {}),
        )
    except pc.InterleavingFailure:
        return True
    return False


@pytest.mark.parametrize(
    ("strategy", "bound", "make", "count"),
    [
        ("dfs", 0, rare_order((2, 1, 0), 3), 4),
        ("dfs", 1, rare_order((1, 0, 0, 1), 2, 2), 8),
        ("dpor", None, rare_order((1, 0, 0, 1), 2, 2), 4),
    ],
)
def test_a_failure_is_found_by_exactly_the_shards_owning_a_failing_schedule(
    strategy: str, bound: int | None, make: Callable[[Outcomes], Callable[[], None]], count: int
) -> None:
    shards = [Shard(index, count) for index in range(count)]
    owners = [bool(_walk(make, strategy, shard, bound=bound).failing) for shard in shards]
    # some shards own a failing schedule and some only walk through one (a discovery run):
    # both sides of the claim are tested
    assert any(owners) and not all(owners), owners
    walked = [_walk(make, strategy, shard, bound=bound) for shard in shards]
    assert all(walk.discovery for walk in walked)
    found = [_explore(make([]), strategy, bound, shard) for shard in shards]
    assert found == owners


def test_a_shards_failure_replays_without_sharding() -> None:
    scenario = rare_order((1, 0, 0, 1), 2, 2)([])
    for index in range(4):
        try:
            pc.explore(scenario, strategy="dpor", runs=None, races="ignore", shard=(index, 4))
        except pc.InterleavingFailure as failure:
            explored = failure
            break
    else:
        pytest.fail("no shard found the failure")
    assert f"shard {index} of 4" in str(explored)
    with pytest.raises(pc.InterleavingFailure) as replayed:
        pc.replay(scenario, explored.token)
    assert "in the order (1, 0, 0, 1)" in str(replayed.value.__cause__)


# -- random and pct ------------------------------------------------------------------------------


def _random_choices(strategy: str, seed: int, shard: Shard | None, runs: int) -> list[tuple]:
    outcomes: Outcomes = []
    scenario = lock_orders(3)(outcomes)
    explorer = make_strategy(strategy, seed=seed, depth=3, preemption_bound=2, shard=shard)
    settings = ExploreOptions.create(strategy=strategy).run_settings(scenario)
    choices = []
    for _ in range(runs):
        assert explorer.begin_run()
        result = run_schedule(scenario, explorer, settings)
        explorer.end_run(len(result.choices))
        assert not explorer.discovering
        choices.append(result.choices)
    return choices


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_random_and_pct_shards_draw_streams_of_their_own(strategy: str) -> None:
    whole = _random_choices(strategy, 7, None, 30)
    assert _random_choices(strategy, 7, Shard(0, 1), 30) == whole
    streams = [_random_choices(strategy, 7, Shard(index, 3), 30) for index in range(3)]
    assert len({tuple(stream) for stream in [whole, *streams]}) == 4
    assert _random_choices(strategy, 7, Shard(1, 3), 30) == streams[1]  # deterministic


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_random_and_pct_shards_share_the_runs(strategy: str) -> None:
    results = [
        pc.explore(lambda: None, strategy=strategy, runs=10, seed=3, shard=(index, 3))
        for index in range(3)
    ]
    assert [result.schedules_run for result in results] == [4, 3, 3]
    assert [result.shard for result in results] == [(0, 3), (1, 3), (2, 3)]
    assert share_of_runs(2, Shard(2, 3)) == 0
    assert share_of_runs(None, Shard(2, 3)) is None


def test_a_shard_with_no_share_of_the_runs_runs_nothing() -> None:
    result = pc.explore(lambda: None, strategy="random", runs=1, shard=(1, 2))
    assert result.schedules_run == 0
    assert not result.exhausted


def test_exhausted_means_the_part_is_covered() -> None:
    scenario = lock_orders(3, 2)([])
    covered = pc.explore(scenario, strategy="dfs", runs=None, preemption_bound=1, shard=(0, 2))
    assert covered.exhausted
    assert covered.shard == (0, 2)
    capped = pc.explore(scenario, strategy="dfs", runs=10, preemption_bound=1, shard=(0, 2))
    assert capped.schedules_run == 5  # half of the runs budget
    assert not capped.exhausted


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "says"),
    [
        (3, TypeError, "shard must be a pair (index, count)"),
        ((1, 2, 3), TypeError, "shard must be a pair (index, count)"),
        ("01", TypeError, "shard must be a pair (index, count)"),
        ((True, 2), TypeError, "shard=(index, count): index must be an int, got bool"),
        ((0, 2.0), TypeError, "shard=(index, count): count must be an int, got float"),
        ((0, 0), ValueError, "shard=(index, count): count must be at least 1, got 0"),
        ((2, 2), ValueError, "index must be in 0..1 (count=2), got 2"),
        ((-1, 2), ValueError, "index must be in 0..1 (count=2), got -1"),
    ],
)
def test_a_bad_shard_is_a_clear_error(value: object, error: type[Exception], says: str) -> None:
    with pytest.raises(error) as raised:
        pc.explore(lambda: None, strategy="dfs", shard=value)  # type: ignore[arg-type]
    assert says in str(raised.value)


def test_a_good_shard_is_kept() -> None:
    assert check_shard(None) is None
    assert check_shard([1, 4]) == Shard(1, 4)
    assert str(Shard(1, 4)) == "shard 1 of 4"


def test_replay_refuses_a_shard() -> None:
    with pytest.raises(TypeError, match="does not take shard"):
        check_replay_options({"shard": (0, 2)})


@pytest.mark.parametrize(
    ("nodeid", "shard", "test"),
    [
        ("t.py::test_x[shard-0-of-2]", Shard(0, 2), "t.py::test_x"),
        ("t.py::test_x[1-shard-1-of-2]", Shard(1, 2), "t.py::test_x[1]"),
        ("t.py::test_x[shard-1-of-3-a]", Shard(1, 3), "t.py::test_x[a]"),
        ("t.py::test_x[a-shard-2-of-3-b]", Shard(2, 3), "t.py::test_x[a-b]"),
        ("t.py::test_x", None, "t.py::test_x"),
    ],
)
def test_the_unsharded_node_id_drops_the_shard(nodeid: str, shard: Shard | None, test: str) -> None:
    assert unsharded_nodeid(nodeid, shard) == test
