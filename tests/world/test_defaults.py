"""What ``explore(scenario)`` does with no options: the reduction at memory granularity.

It finds the plain ``self.value += 1`` lost update and a dict check-then-set
and proves their locked twins (``exhausted``, no preemption bound); it stops
at a generous run cap and then says the pass is no proof; options it does not
read are errors that name the default; asyncio tasks are reduced like threads;
and where the reduction cannot be used (another granularity, timer choices)
it explores with another strategy and the result names it.
"""

from __future__ import annotations

import asyncio
import functools
import warnings
from collections.abc import Callable

import memory_subjects as subjects
import pytest

from pytest_concurrency.world import options as explore_options
from pytest_concurrency.world.api import ExploreOptions, explore
from pytest_concurrency.world.report import InterleavingFailure, NotExhaustedWarning

pytest_plugins = ["pytester"]


def _failure(scenario: Callable[[], object], **options: object) -> InterleavingFailure:
    with pytest.raises(InterleavingFailure) as info:
        explore(scenario, **options)  # type: ignore[arg-type]
    return info.value


def test_the_defaults_are_dpor_at_memory_granularity_with_no_bound() -> None:
    options = ExploreOptions.create()
    assert (options.strategy, options.granularity, options.preemption_bound) == (
        "dpor",
        "memory",
        None,
    )
    assert (options.runs, options.races, options.given) == (10_000, "warn", frozenset())


@pytest.mark.parametrize(
    ("race", "message"),
    [
        (subjects.counter(2, locked=False), "lost an update"),
        (subjects.check_then_set(locked=False), "made twice"),
    ],
    ids=["plain_increment", "dict_check_then_set"],
)
def test_the_default_finds_the_plain_races_with_one_preemption(
    race: Callable[[], None], message: str
) -> None:
    failure = _failure(race)
    assert message in str(failure.__cause__)
    assert failure.strategy == "dpor"
    assert failure.preemptions == 1
    assert "found by strategy 'dpor' (no preemption bound)" in str(failure)
    assert "fewest preemptions: 1" in str(failure)


@pytest.mark.parametrize(
    ("twin", "most"),
    [
        (subjects.counter(2, locked=True), 4),
        (subjects.counter(3, locked=True), 12),
        (subjects.check_then_set(locked=True), 4),
    ],
    ids=["locked_counter_2", "locked_counter_3", "locked_check_then_set"],
)
def test_the_default_proves_the_locked_twins(twin: Callable[[], None], most: int) -> None:
    result = explore(twin)
    assert (result.strategy, result.granularity, result.preemption_bound) == (
        "dpor",
        "memory",
        None,
    )
    assert result.exhausted
    assert result.schedules_run <= most
    assert result.equivalence_classes is not None and result.equivalence_classes >= 2
    assert result.coverage == (
        "dpor, memory granularity, no preemption bound: exhausted "
        f"({result.equivalence_classes} equivalence classes in {result.schedules_run} "
        "executions)"
    )


# -- the run cap ------------------------------------------------------------------------------


def _many_classes() -> None:
    """Three threads each adding to one counter under a lock, and each reading it unlocked:
    many orders of conflicting accesses, every one passing."""
    shared = subjects.Counter(locked=True)

    def add_then_read() -> None:
        shared.add()
        assert shared.value >= 1

    subjects.run_threads(add_then_read, add_then_read, add_then_read)


def test_the_default_cap_stops_a_large_space_and_says_it_is_no_proof(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(explore_options.DEFAULT_RUNS, "dpor", 3)
    with pytest.warns(NotExhaustedWarning, match="stopped at its default cap of 3 runs") as seen:
        result = explore(_many_classes, races="ignore")
    assert (result.schedules_run, result.exhausted) == (3, False)
    assert "NOT exhausted" in result.coverage
    assert "proves nothing" in str(seen[0].message)
    assert seen[0].filename == __file__  # the warning points at the explore() call


def test_a_cap_the_caller_chose_is_not_warned_about() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotExhaustedWarning)
        result = explore(_many_classes, races="ignore", runs=3)
    assert (result.schedules_run, result.exhausted) == (3, False)
    assert explore(_many_classes, races="ignore", runs=None).exhausted


def test_a_session_run_cap_applies_to_the_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_capped="""
import threading
import pytest

def many():
    lock = threading.Lock()
    box = {"n": 0}
    def add():
        with lock:
            box["n"] += 1
        assert box["n"] >= 1
    workers = [threading.Thread(target=add) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

def test_fixture(interleavings):
    result = interleavings.explore(many, races="ignore")
    assert (result.strategy, result.schedules_run, result.exhausted) == ("dpor", 2, False)

@pytest.mark.interleavings(races="ignore")
def test_marker():
    many()
"""
    )
    result = pytester.runpytest(
        "-p", "no:randomly", "--interleavings-runs=2", "-W", "error::UserWarning"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*dpor, memory granularity, no preemption bound: 2 passes, 4 equivalence classes "
            "in 4 executions; 0 exhausted, 2 NOT exhausted",
            "*not exhausted: test_capped.py::test_fixture (2 executions), "
            "test_capped.py::test_marker (2 executions)",
        ]
    )


# -- options the default does not read --------------------------------------------------------


@pytest.mark.parametrize("option", [{"seed": 3}, {"depth": 2}])
def test_options_the_default_does_not_read_are_errors_naming_it(option: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="explore\\(\\) with no strategy= uses strategy='dpor'"):
        explore(subjects.counter(2, locked=True), **option)  # type: ignore[arg-type]


# -- where the reduction cannot be used -------------------------------------------------------


class _Box:
    def __init__(self) -> None:
        self.value = 0


async def _locked_tasks() -> None:
    box = _Box()
    lock = asyncio.Lock()

    async def add() -> None:
        async with lock:
            value = box.value
            await asyncio.sleep(0)
            box.value = value + 1

    await asyncio.gather(add(), add())
    assert box.value == 2


async def _unlocked_adds() -> int:
    """Two tasks add one each, reading and writing around an await: the count at the end."""
    box = _Box()

    async def add() -> None:
        value = box.value
        await asyncio.sleep(0)
        box.value = value + 1

    await asyncio.gather(add(), add())
    return box.value


async def _racing_tasks() -> None:
    assert await _unlocked_adds() == 2, "a task's update was lost"


async def _racing_tasks_told_apart() -> None:
    assert await _unlocked_adds() in (1, 2)


def test_asyncio_tasks_are_explored_by_the_reduction_and_the_result_says_so() -> None:
    result = explore(_locked_tasks)
    assert (result.strategy, result.preemption_bound, result.exhausted) == ("dpor", None, True)
    assert result.coverage.startswith("dpor, memory granularity, no preemption bound")
    assert result.schedules_run <= 4  # who takes the lock first, and the order of the reads
    failure = _failure(_racing_tasks)
    assert failure.strategy == "dpor"
    assert "a task's update was lost" in str(failure)


def test_a_sync_scenario_running_an_event_loop_is_explored_by_the_reduction_too() -> None:
    result = explore(lambda: asyncio.run(_locked_tasks()))
    assert (result.strategy, result.exhausted) == ("dpor", True)
    failure = _failure(lambda: asyncio.run(_racing_tasks()))
    assert failure.strategy == "dpor"


def test_an_explicit_dpor_on_asyncio_tasks_keeps_what_the_caller_wrote() -> None:
    result = explore(_locked_tasks, strategy="dpor", preemption_bound=0, runs=5)
    assert (result.strategy, result.preemption_bound, result.schedules_run) == ("dpor", 0, 1)
    assert not result.exhausted  # the bound cut the other lock order


@pytest.mark.parametrize("option", [{"races": "error"}, {"benign": ["_Box.value"]}])
def test_race_options_on_asyncio_tasks_are_read(option: dict[str, object]) -> None:
    """Tasks of one loop never run at once: their conflicts order, they are no data race."""
    result = explore(_racing_tasks_told_apart, **option)  # type: ignore[arg-type]
    assert (result.strategy, result.exhausted) == ("dpor", True)


def test_another_granularity_samples_with_pct_and_timer_choices_get_dfs() -> None:
    line = explore(subjects.counter(2, locked=True), granularity="line", runs=5)
    assert (line.strategy, line.granularity, line.schedules_run) == ("pct", "line", 5)
    assert line.coverage.endswith("5 executions (sampled)")
    timers = explore(subjects.counter(2, locked=True), timers="choice")
    assert (timers.strategy, timers.granularity, timers.preemption_bound) == ("dfs", "memory", 2)


def test_a_marker_pass_records_what_it_covered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marked="""
import threading
import pytest

@pytest.mark.interleavings
def test_locked():
    lock = threading.Lock()
    box = {"n": 0}
    def add():
        with lock:
            box["n"] += 1
    workers = [threading.Thread(target=add) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert box["n"] == 2
"""
    )
    result = pytester.runpytest("-p", "no:randomly", "--junitxml=report.xml")
    result.assert_outcomes(passed=1)
    report = (pytester.path / "report.xml").read_text()
    for name, value in [
        ("strategy", "dpor"),
        ("granularity", "memory"),
        ("preemption_bound", "none"),
        ("exhausted", "True"),
        ("equivalence_classes", "2"),
        ("schedules_run", "2"),
        (
            "coverage",
            "dpor, memory granularity, no preemption bound: exhausted "
            "(2 equivalence classes in 2 executions)",
        ),
    ]:
        assert f'<property name="interleavings_{name}" value="{value}"' in report, report


def test_a_scenario_touching_nothing_traced_is_refused_by_the_default() -> None:
    # the code under test (here a builtin) is not traced: a pass would prove nothing
    with pytest.raises(ValueError, match="explore\\(\\)'s default strategy, dpor, saw no access"):
        explore(functools.partial(sorted, [3, 1, 2]))
