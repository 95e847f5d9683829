"""Memory granularity and the partial-order reduction over it.

Every race here is in plain Python with no lock (invisible to sync points and,
for ``self.value += 1``, to line points too); each is found by ``dpor`` in a
handful of runs, and each locked twin is proven: ``exhausted`` with no
preemption bound, in as many runs as there are orders of its conflicting
operations.
"""

from __future__ import annotations

from collections.abc import Callable

import memory_subjects as subjects
import pytest

from pytest_concurrency.world.api import ExploreResult, explore
from pytest_concurrency.world.locations import item
from pytest_concurrency.world.memory import ITEMS, accesses_of, resolve
from pytest_concurrency.world.report import InterleavingFailure


def _found(scenario: Callable[[], None], **options: object) -> InterleavingFailure:
    with pytest.raises(InterleavingFailure) as info:
        explore(scenario, strategy="dpor", runs=200, **options)  # type: ignore[arg-type]
    return info.value


def _proven(scenario: Callable[[], None]) -> ExploreResult:
    # the double-checked cache's unlocked first read is a data race by design (its own test)
    result = explore(scenario, strategy="dpor", runs=None, races="ignore")
    assert result.exhausted
    assert result.equivalence_classes is not None
    return result


@pytest.mark.parametrize(
    ("race", "message"),
    [
        (subjects.counter(2, locked=False), "lost an update"),
        (subjects.check_then_set(locked=False), "made twice"),
        (subjects.heap_race(), "read the heap before the push"),
        (subjects.global_race(), "lost a global update"),
        (subjects.closure_race(), "lost a closure update"),
        (subjects.class_attribute_race(), "read the class default"),
    ],
    ids=["plain_increment", "dict_check_then_set", "heapq", "global", "closure", "class_attr"],
)
def test_dpor_finds_each_plain_memory_race_in_a_few_runs(
    race: Callable[[], None], message: str
) -> None:
    failure = _found(race)
    assert message in str(failure.__cause__)
    assert failure.schedules_run <= 4
    assert failure.token.startswith("pc1.")


@pytest.mark.parametrize(
    ("twin", "most"),
    [
        (subjects.counter(2, locked=True), 4),
        (subjects.counter(3, locked=True), 12),
        (subjects.check_then_set(locked=True), 4),
        (subjects.double_checked(3), 60),
        (subjects.two_locks_in_order(), 4),
    ],
    ids=["counter_2", "counter_3", "check_then_set", "double_checked_3", "two_locks"],
)
def test_dpor_proves_each_locked_twin_in_few_runs(twin: Callable[[], None], most: int) -> None:
    result = _proven(twin)
    assert result.schedules_run <= most
    assert result.strategy == "dpor" and result.seed is None


def test_the_default_bound_is_none_and_a_bound_that_prunes_is_not_a_proof() -> None:
    unbounded = _proven(subjects.counter(3, locked=True))
    bounded = explore(subjects.counter(3, locked=True), strategy="dpor", preemption_bound=0)
    assert unbounded.schedules_run == 6  # 3! orders of the lock
    assert bounded.schedules_run < unbounded.schedules_run
    assert not bounded.exhausted  # it skipped classes: not every interleaving ran


def test_a_failure_replays_from_its_token() -> None:
    scenario = subjects.counter(2, locked=False)
    failure = _found(scenario)
    from pytest_concurrency.world.api import replay

    with pytest.raises(InterleavingFailure) as again:
        replay(scenario, failure.token)
    assert "lost an update" in str(again.value.__cause__)
    assert str(again.value.trace) == str(failure.trace)


def _outcomes(make: Callable[[list[object]], Callable[[], None]], **options: object) -> set[str]:
    outcomes: list[object] = []
    result = explore(make(outcomes), runs=20_000, **options)  # type: ignore[arg-type]
    assert result.exhausted
    return set(map(repr, outcomes))


@pytest.mark.parametrize(
    "make",
    [
        subjects.outcomes_of_unlocked_appends,
        subjects.outcomes_of_attribute_reads,
        subjects.outcomes_of_untraced_methods,
    ],
    ids=["appends", "attribute_reads", "untraced_methods"],
)
def test_dpor_reaches_every_outcome_dfs_reaches_at_memory_granularity(
    make: Callable[[list[object]], Callable[[], None]],
) -> None:
    reduced = _outcomes(make, strategy="dpor", races="ignore")  # racy on purpose
    full = _outcomes(make, strategy="dfs", granularity="memory")
    assert full <= reduced, f"missed {full - reduced}"


def test_dpor_needs_memory_granularity() -> None:
    with pytest.raises(ValueError, match="strategy='dpor' needs granularity='memory'"):
        explore(subjects.counter(2, locked=True), strategy="dpor", granularity="sync")
    with pytest.raises(ValueError, match="timers='choice'"):
        explore(subjects.counter(2, locked=True), strategy="dpor", timers="choice")


# -- what each access touches ------------------------------------------------------------------


def _specs(function: Callable[..., object]) -> list[tuple[str, str, str]]:
    return [(spec.kind, spec.mode, spec.name) for spec in accesses_of(function.__code__).values()]


def test_an_augmented_attribute_assignment_reads_and_writes_one_known_object() -> None:
    specs = [
        spec for spec in accesses_of(subjects.Counter.add.__code__).values() if spec.name == "value"
    ]
    # two sites (with and without the lock), each a read then a write
    assert [(spec.kind, spec.mode) for spec in specs] == [("attr", "r"), ("attr", "w")] * 2
    # the operand of both is the local ``self``: the store is not an unknown object
    assert all(spec.operand is not None and spec.operand[0] == "fast" for spec in specs)


def _resolved_in_caller(names: tuple[str, ...]) -> dict[str, object]:
    """What the calling function's accesses named ``names`` touch, in its frame now."""
    import sys

    frame = sys._getframe(1)
    return {
        spec.name: resolve(spec, frame)
        for spec in accesses_of(frame.f_code).values()
        if spec.name in names
    }


def test_container_methods_are_reads_or_writes_of_the_items() -> None:
    store: dict[str, int] = {"a": 1}
    found = _resolved_in_caller(("get", "setdefault", "update"))
    _ = (store.get("a"), store.setdefault("b", 2), store.update({}))
    # the key is a constant: one item; setdefault's mode is decided when it runs
    assert found == {
        "get": [(store, item("a"), "r")],
        "setdefault": [(store, item("b"), "w-if-absent")],
        "update": [(store, ITEMS, "w")],  # the whole container
    }
    assert ("item", "w", "__setitem__") in _specs(_store_item)


def _store_item(table: dict[str, int]) -> None:
    table["k"] = 1


def test_methods_of_a_class_are_no_points_but_class_data_is_a_wide_read() -> None:
    config = subjects.Config()
    found = _resolved_in_caller(("limit", "__init__"))
    _ = (config.limit, config.__init__)
    assert found["limit"] == [(None, "limit", "r")]  # may be shadowed: meets every .limit
    assert found["__init__"] is None  # a method: taken as constant


def test_dpor_refuses_to_prove_code_it_cannot_see() -> None:
    from pytest_concurrency.demo.zoo import single_flight  # harness code: never traced

    with pytest.raises(ValueError, match="saw no access to shared memory in the traced code"):
        explore(single_flight.buggy, strategy="dpor", trace=[subjects])
    found = _found(single_flight.buggy, trace=[single_flight])  # named: traced, and found
    assert "ran 2 times" in str(found.__cause__)


def test_the_double_checked_read_outside_the_lock_is_reported_as_a_data_race() -> None:
    from pytest_concurrency.errors import DataRaceWarning

    with pytest.warns(DataRaceWarning, match=r"dict\['k'\]"):
        result = explore(subjects.double_checked(3), strategy="dpor", runs=None)
    assert result.exhausted  # every assertion held: a race, not a failure
    quiet = explore(subjects.double_checked(3), strategy="dpor", runs=None, benign=["dict[items]"])
    assert quiet.exhausted
