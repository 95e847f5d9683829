"""The reduction's precision: what a container access touches, and how few runs prove a guard.

Finer dependencies mean fewer runs, and each refinement is a claim that two
operations commute. Each is checked twice: in isolation (what an access is
judged to touch), and against exhaustive search at memory granularity -- the
reduction must reach every outcome, and every Mazurkiewicz trace, that bounded
DFS reaches.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import dpor_traces
import precision_subjects as subjects
import pytest

from pytest_concurrency.bench import dpor_scenarios
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.bytecode import accesses_of
from pytest_concurrency.world.containers import WRITE_IF_ABSENT, WRITE_IF_PRESENT
from pytest_concurrency.world.locations import (
    EVERYTHING,
    ITEMS,
    STATE,
    UNKNOWN,
    conflict,
    conflict_across_runs,
    item,
)
from pytest_concurrency.world.memory import MemoryAccess, resolve
from pytest_concurrency.world.report import InterleavingFailure

# -- which locations may be the same memory ----------------------------------------------------


def test_items_of_different_keys_never_meet_but_the_whole_container_meets_them_all() -> None:
    assert not conflict((3, item("a")), (3, item("b")))
    assert conflict((3, item("a")), (3, item("a")))
    assert conflict((3, ITEMS), (3, item("a")))  # len(), iteration, update(), clear()
    assert conflict((3, STATE), (3, item("a")))  # an untraced method on the container
    assert conflict((UNKNOWN, ITEMS), (3, item("a")))  # some container: maybe this one
    assert not conflict((4, ITEMS), (3, item("a")))  # another container
    # one number for an object and its __dict__: an attribute is the item of its name
    assert conflict((3, "value"), (3, item("value")))
    assert not conflict((3, "value"), (3, item("other")))
    assert conflict((3, ITEMS), (3, "value"))  # vars(obj).update(...), obj.__dict__.clear()
    assert not conflict((3, "cell:value"), (3, item("value")))  # a closure cell is no item
    assert conflict(EVERYTHING, (3, item("a")))
    assert not conflict(("Lock", 1), (1, ITEMS))  # a primitive is no memory


def test_objects_first_touched_after_a_shared_prefix_are_compared_by_part() -> None:
    # below the base the numbers name the same objects in both runs
    assert not conflict_across_runs((1, "x"), (2, "x"), base=5)
    # both first touched after it: they may be one object
    assert conflict_across_runs((6, "x"), (7, "x"), base=5)
    assert not conflict_across_runs((6, "x"), (7, "y"), base=5)
    # one touched before, one after: two objects
    assert not conflict_across_runs((1, "x"), (7, "x"), base=5)


# -- what one access touches -------------------------------------------------------------------


class _Frame:
    """What resolving an access reads of a frame: its locals and globals."""

    def __init__(self, f_locals: dict[str, object], f_globals: dict[str, object]) -> None:
        self.f_locals = f_locals
        self.f_globals = f_globals


def _access(operation: Callable[..., object], **values: object) -> MemoryAccess:
    """The access ``operation``'s one container operation makes with these arguments."""
    specs = [
        spec for spec in accesses_of(operation.__code__).values() if spec.kind in ("call", "item")
    ]
    assert len(specs) == 1, specs
    touched = resolve(specs[0], _Frame(values, operation.__globals__))  # type: ignore[arg-type]
    assert touched is not None
    return MemoryAccess(touched)


def _get(table: dict[object, object], key: object) -> object:
    return table.get(key)


def _setdefault(table: dict[object, object], key: object) -> object:
    return table.setdefault(key, 0)


def _pop(table: dict[object, object], key: object) -> object:
    return table.pop(key, None)


def _subscript(table: dict[object, object], key: object) -> object:
    return table[key]


def _contains(table: dict[object, object]) -> bool:
    return "k" in table  # a constant key


def _delete(table: dict[object, object], key: object) -> None:
    del table[key]


def test_a_key_operation_touches_its_item_with_the_mode_of_its_effect() -> None:
    table: dict[object, object] = {"here": 1}
    assert _access(_get, table=table, key="k").accesses == [(table, item("k"), "r")]
    absent = _access(_setdefault, table=table, key="k")
    present = _access(_setdefault, table=table, key="here")
    assert present.accesses == [(table, item("here"), WRITE_IF_ABSENT)]
    assert present.settle() == [(table, item("here"), "r")]  # nothing changes: a read
    assert absent.settle() == [(table, item("k"), "w")]
    missing = _access(_pop, table=table, key="gone")
    assert missing.accesses == [(table, item("gone"), WRITE_IF_PRESENT)]
    assert missing.settle() == [(table, item("gone"), "r")]
    assert _access(_pop, table=table, key="here").settle() == [(table, item("here"), "w")]
    assert _access(_delete, table=table, key="gone").settle() == [(table, item("gone"), "r")]
    assert _access(_subscript, table=table, key="here").settle() == [(table, item("here"), "r")]
    assert _access(_contains, table=table).settle() == [(table, item("k"), "r")]


def test_the_effect_is_decided_in_the_state_the_access_runs_in() -> None:
    table: dict[object, object] = {}
    access = _access(_setdefault, table=table, key="k")
    assert access.predict() == [(table, item("k"), "w")]  # absent now
    table["k"] = 0  # another thread got there first
    assert access.settle() == [(table, item("k"), "r")]
    table.clear()
    assert access.settle() == [(table, item("k"), "r")]  # decided once, when it ran


def _add(members: set[object], key: object) -> None:
    members.add(key)


def _discard(members: set[object], key: object) -> None:
    members.discard(key)


def test_set_add_of_a_member_and_discard_of_a_stranger_only_read() -> None:
    members: set[object] = {"in"}
    assert _access(_add, members=members, key="in").settle() == [(members, item("in"), "r")]
    assert _access(_add, members=members, key="new").settle() == [(members, item("new"), "w")]
    assert _access(_discard, members=members, key="out").settle() == [(members, item("out"), "r")]
    assert _access(_discard, members=members, key="in").settle() == [(members, item("in"), "w")]


def _keys(table: dict[object, object]) -> object:
    return table.keys()


def _update(table: dict[object, object]) -> None:
    table.update({})


def _iterate(table: dict[object, object]) -> list[object]:
    keys = []
    for key in table:
        keys.append(key)
    return keys


def _get_by_attribute(table: dict[object, object], box: subjects.Cache) -> object:
    return table.get(box.winner)  # the key's path may name another value by the call


def test_operations_on_the_whole_container_and_unsure_keys_touch_every_item() -> None:
    table: dict[object, object] = {"a": 1}
    assert _access(_keys, table=table).accesses == [(table, ITEMS, "r")]
    assert _access(_update, table=table).accesses == [(table, ITEMS, "w")]
    box = subjects.Cache()
    assert _access(_get_by_attribute, table=table, box=box).accesses == [(table, ITEMS, "r")]
    iteration = [
        spec for spec in accesses_of(_iterate.__code__).values() if spec.name == "__iter__"
    ]
    assert iteration and iteration[0].mode == "r"


class _Key:
    """A key whose equality is the user's code: its item cannot be named across runs."""

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return 1


def test_only_plain_keys_name_an_item() -> None:
    strange, plain = _Key(), ("a", 1, None, b"x", True)
    table: dict[object, object] = {strange: 1, plain: 2}
    assert _access(_get, table=table, key=strange).accesses == [(table, ITEMS, "r")]
    assert _access(_get, table=table, key=plain).accesses == [(table, item(plain), "r")]
    assert _access(_get, table=table, key=1.5).accesses == [(table, ITEMS, "r")]
    made: collections.defaultdict[object, list[object]] = collections.defaultdict(list)
    # a missing key of a defaultdict is made by reading it
    assert _access(_subscript, table=made, key="k").settle() == [(made, item("k"), "w")]
    counted: collections.Counter[object] = collections.Counter()
    assert _access(_subscript, table=counted, key="k").settle() == [(counted, item("k"), "r")]
    listed = [1, 2]
    assert _access(_subscript, table=listed, key=0).accesses == [(listed, ITEMS, "r")]


# -- fewer runs, same outcomes -----------------------------------------------------------------


def _outcomes(
    make: Callable[[list[object]], Callable[[], Any]], strategy: str, **options: Any
) -> tuple[set[str], int]:
    return dpor_traces.outcomes(make, strategy, trace=[subjects], **options)


def test_callers_of_two_keys_commute_and_of_one_key_do_not() -> None:
    two, runs_two = _outcomes(lambda out: subjects.setdefault_race(("a", "b"), out), "dpor")
    one, runs_one = _outcomes(lambda out: subjects.setdefault_race(("a", "a"), out), "dpor")
    assert runs_two == 1 and len(two) == 1
    assert runs_one == 2 and one == {
        repr((("a", "first"),)),
        repr((("a", "second"),)),
    }  # either setdefault can win: both orders run


def test_setdefault_of_a_present_key_is_one_run() -> None:
    outcomes, runs = _outcomes(subjects.present_setdefault, "dpor")
    assert runs == 1
    assert outcomes == {repr((("first", "old"), ("second", "old")))}


@pytest.mark.parametrize(
    "make",
    [
        lambda out: subjects.setdefault_race(("a", "a"), out),
        subjects.pop_and_discard,
        subjects.whole_and_item,
    ],
    ids=["setdefault", "pop_in_discard_add", "whole_and_item"],
)
def test_the_reduction_reaches_every_outcome_dfs_reaches(
    make: Callable[[list[object]], Callable[[], None]],
) -> None:
    reduced, reduced_runs = _outcomes(make, "dpor")
    full, full_runs = _outcomes(make, "dfs", preemption_bound=3)
    assert full <= reduced, f"missed {full - reduced}"
    assert reduced_runs < full_runs


def test_every_whose_lock_and_who_builds_combination_is_run() -> None:
    """The caller that finds the key's lock taken waits: run first, it would take it.

    Before a wait counted as an access, a sleeping caller stayed asleep across
    the release that let it through, and the runs where one caller's lock is
    kept but another caller builds were skipped.
    """
    outcomes, runs = _outcomes(subjects.winners_and_builders, "dpor")
    assert outcomes == {repr((winner, builder)) for winner in range(3) for builder in range(3)}
    assert runs <= 60


# -- against exhaustive search, trace by trace -------------------------------------------------


def _bench(name: str, threads: int | None = None) -> Callable[[], None]:
    scenario = dpor_scenarios.by_name(name)
    if threads is not None:
        from dataclasses import replace

        scenario = replace(scenario, threads=threads)
    return dpor_scenarios.as_scenario(scenario)


@pytest.mark.parametrize(
    ("scenario", "bound"),
    [
        (_bench("double-checked cache, 3 callers", threads=2), 2),
        (_bench("locked counter, 2 threads"), 3),
        (_bench("lost update, 2 threads"), 3),
        (_bench("two locks in a fixed order, 2 threads"), 2),
    ],
    ids=["double_checked_2", "locked_counter_2", "lost_update", "two_locks"],
)
def test_the_reduction_runs_every_trace_bounded_dfs_runs(
    scenario: Callable[[], None], bound: int
) -> None:
    reduced, missed = dpor_traces.missed_by_the_reduction(
        scenario, bound, trace=[dpor_scenarios], thread_errors="ignore"
    )
    assert not missed, f"{len(missed)} of the traces DFS ran were not run"
    assert reduced


# -- the benchmark's complete answers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "most"),
    [
        ("locked counter, 2 threads", 4),
        ("locked counter, 3 threads", 12),
        ("double-checked cache, 3 callers", 60),
        ("two locks in a fixed order, 2 threads", 3),
    ],
)
def test_each_guard_of_the_benchmark_is_proven_in_few_executions(name: str, most: int) -> None:
    result = explore(
        _bench(name), strategy="dpor", runs=None, trace=[dpor_scenarios], races="ignore"
    )
    assert result.exhausted  # strategy dpor, memory granularity, no preemption bound
    assert result.schedules_run <= most
    assert result.equivalence_classes is not None
    assert result.equivalence_classes >= result.schedules_run - 1  # at most one run repeats


def test_the_lost_update_of_the_benchmark_is_found_with_one_preemption() -> None:
    with pytest.raises(InterleavingFailure) as caught:
        explore(_bench("lost update, 2 threads"), strategy="dpor", trace=[dpor_scenarios])
    assert caught.value.schedules_run <= 2
    assert caught.value.preemptions == 1
    assert "replayed 3/3" in str(caught.value)


# -- sys.monitoring after legacy tracing ---------------------------------------------------------


def test_memory_points_survive_legacy_tracing_used_earlier_in_the_process() -> None:
    """CPython 3.12/3.13 drop a code object's local events set before the global ones once
    ``sys.settrace`` was used (even in another thread) and its PY_START was disabled: a fresh
    process, so that no earlier test has already switched the code's events on."""
    program = textwrap.dedent(
        """
        import threading
        from pytest_concurrency.world.api import explore
        from pytest_concurrency.world.report import InterleavingFailure
        from pytest_concurrency.demo.zoo import single_flight, lost_update

        threading.settrace(lambda *args: None)
        worker = threading.Thread(target=lambda: None)
        worker.start()
        worker.join()
        threading.settrace(None)
        try:  # not traced: its code objects' starts are switched off
            explore(single_flight.buggy, strategy="dpor", trace=[lost_update])
        except ValueError:
            pass
        try:
            explore(single_flight.buggy, strategy="dpor", trace=[single_flight])
        except InterleavingFailure:
            print("found")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=100, check=False
    )
    assert done.stdout.strip() == "found", done.stderr[-2000:]


@pytest.mark.parametrize("style", sorted(subjects.ITERATIONS))
def test_each_step_of_a_loop_over_a_dict_reads_it_again(style: str) -> None:
    """An insert between two steps of another thread's loop raises in the loop."""
    scenario = subjects.insert_while_iterating(subjects.ITERATIONS[style])
    with pytest.raises(InterleavingFailure) as caught:
        explore(scenario, strategy="dpor", trace=[subjects], races="ignore")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "changed size during iteration" in str(caught.value.__cause__)


def _chained_store(make: Callable[[], Any]) -> object:
    box = make()
    value = box.value = make()  # 3.13: STORE_FAST_LOAD_FAST (value, box)
    first, second = make()  # 3.13: STORE_FAST_STORE_FAST (first, second)
    second.value = first
    return value


def test_a_local_stored_and_loaded_in_one_instruction_still_names_its_object() -> None:
    """Else the store's object is unknown: it meets every object, and the reduction runs
    far more classes than there are (a build-once cache's check went from 268 to 10,000+)."""
    stores = [
        spec.operand
        for _offset, spec in sorted(accesses_of(_chained_store.__code__).items())
        if spec.kind == "attr" and spec.mode == "w"
    ]
    assert stores == [("fast", "box"), ("fast", "second")]


def _augmented_item(box: dict[str, int], rows: list[list[int]]) -> None:
    box["n"] += 1  # 3.10: DUP_TOP_TWO, then ROT_THREE before the store
    rows[0][1], rows[1][0] = rows[1][0], rows[0][1]  # 3.10: ROT_TWO/ROT_THREE of items


def test_an_augmented_item_store_names_its_container_on_every_version() -> None:
    """Else the container is unknown: it meets every object, and a two-lock counter that
    two runs prove took 11 runs on 3.10 (with a false data race between the threads)."""
    items = [
        (spec.mode, spec.operand, spec.key)
        for _offset, spec in sorted(accesses_of(_augmented_item.__code__).items())
        if spec.kind == "item" and spec.operand == ("fast", "box")
    ]
    assert items == [("r", ("fast", "box"), ("const", "n")), ("w", ("fast", "box"), ("const", "n"))]
    stored = [
        spec.key
        for _offset, spec in sorted(accesses_of(_augmented_item.__code__).items())
        if spec.kind == "item" and spec.mode == "w" and spec.operand != ("fast", "box")
    ]
    assert stored == [("const", 1), ("const", 0)]
