"""A failing exploration explains itself: racing accesses, preemptions, confirmed replays."""

from __future__ import annotations

import pickle
import re
import warnings

import explained_subjects as subjects
import pytest

from pytest_concurrency import DataRace, DataRaceWarning, InterleavingFailure, explore
from pytest_concurrency.world import explain, token
from pytest_concurrency.world.api import ExploreOptions
from pytest_concurrency.world.conflicts import Access, Conflict

pytest_plugins = ["pytester"]

FILE = "tests/world/explained_subjects.py"


def _failure(scenario: object, **options: object) -> InterleavingFailure:
    with pytest.raises(InterleavingFailure) as caught:
        explore(scenario, **options)  # type: ignore[arg-type]
    return caught.value


def test_a_lost_update_names_its_write_write_conflict() -> None:
    failure = _failure(subjects.lost_update, strategy="dpor")
    line = subjects.line_of("RACY LINE")
    where = f"{FILE}:{line}"
    assert (
        f"write-write conflict on Counter.value: T2 (add) at {where} and T1 (add) at {where}"
        in str(failure)
    )
    assert "read-write conflict on Counter.value" in str(failure)
    writes = [c for c in failure.conflicts if c.kind == "write-write"]
    assert writes == [
        Conflict(
            Access("T2 (add)", "write", "Counter.value", FILE, line),
            Access("T1 (add)", "write", "Counter.value", FILE, line),
        )
    ]
    assert {c.kind for c in failure.conflicts} == {"write-write", "read-write"}


def test_a_stale_read_names_its_read_write_conflicts() -> None:
    failure = _failure(subjects.stale_read, strategy="dpor")
    kinds = {(c.what, c.kind) for c in failure.conflicts}
    assert ("Flag.ready", "write-read") in kinds or ("Flag.ready", "read-write") in kinds
    accesses = {(a.what, a.access, a.line) for c in failure.conflicts for a in (c.first, c.second)}
    assert ("Flag.ready", "write", subjects.line_of("FLAG WRITE")) in accesses
    assert ("Flag.ready", "read", subjects.line_of("FLAG READ")) in accesses
    assert "conflict on Flag.ready" in str(failure)


def test_accesses_a_lock_orders_are_no_conflict() -> None:
    failure = _failure(subjects.locked_but_wrong, strategy="dpor")
    assert failure.conflicts == ()
    assert "conflict on" not in str(failure)
    assert failure.preemptions == 0
    assert "(fewest preemptions: 0)" in str(failure)


def test_conflicts_and_preemptions_survive_pickling() -> None:
    failure = _failure(subjects.lost_update, strategy="dpor")
    copy = pickle.loads(pickle.dumps(failure))
    assert copy.conflicts == failure.conflicts != ()
    assert copy.preemptions == failure.preemptions == 1


def test_the_one_line_lost_update_is_reported_with_one_preemption() -> None:
    failure = _failure(subjects.lost_update, strategy="dpor")
    assert failure.preemptions == 1
    assert "(fewest preemptions: 1)" in str(failure)
    marked = [step for step in failure.trace.steps if step.preempted]
    assert len(marked) == 1


def test_dfs_reports_the_fewest_preemptions_too() -> None:
    failure = _failure(
        subjects.lost_update, strategy="dfs", granularity="memory", preemption_bound=3
    )
    assert failure.preemptions == 1
    assert "(fewest preemptions: 1)" in str(failure)


def test_preemptions_are_counted_for_every_strategy() -> None:
    failure = _failure(subjects.lost_update, strategy="random", granularity="memory", seed=1)
    assert failure.preemptions == len([s for s in failure.trace.steps if s.preempted])
    assert failure.preemptions is not None and failure.preemptions > 1
    # no search for the random strategies: the message does not claim the fewest
    assert "fewest preemptions" not in str(failure)


def test_a_schedule_with_many_preemptions_shrinks_to_one() -> None:
    failure = _failure(subjects.lost_update, strategy="random", granularity="memory", seed=1)
    assert failure.preemptions is not None and failure.preemptions > 1
    settings = ExploreOptions.create(strategy="dfs", granularity="memory").run_settings(
        subjects.lost_update
    )
    assert settings.lines is not None
    with settings.lines:
        original = explain.traced(
            subjects.lost_update, token.decode(failure.token).choices, settings
        ).result.failure
        assert original is not None
        simpler = explain.fewest_preemptions(
            subjects.lost_update, "dfs", original, failure.preemptions, settings
        )
    assert simpler is not None
    assert simpler.preemptions == 1
    assert simpler.result.failure is not None and simpler.result.failure.same_as(original)


def test_the_reported_schedule_is_replayed_three_times() -> None:
    failure = _failure(subjects.lost_update, strategy="dpor")
    assert "replayed 3/3: the schedule failed the same way every time" in str(failure)


def test_a_schedule_that_does_not_replay_says_the_scenario_is_not_deterministic() -> None:
    subjects.RUNS[0] = 0
    failure = _failure(subjects.flaky, strategy="random", runs=10, seed=0)
    message = str(failure)
    assert "replayed 1/3" in message
    assert "not deterministic" in message
    assert "failed the same way every time" not in message


# -- data races in passing explorations ---------------------------------------------------------


def test_a_data_race_in_a_passing_exploration_warns_by_default() -> None:
    with pytest.warns(DataRaceWarning) as caught:
        result = explore(subjects.racy_flag, strategy="dpor")
    assert result.exhausted
    message = str(caught[0].message)
    write = f"{FILE}:{subjects.line_of('RACY FLAG WRITE')}"
    read = f"{FILE}:{subjects.line_of('RACY FLAG READ')}"
    assert "conflict on Config.flag" in message
    assert write in message and read in message
    assert "benign=['Config.flag']" in message
    assert caught[0].filename == __file__  # the warning points at the explore() call


def test_races_error_fails_the_exploration() -> None:
    with pytest.raises(DataRace) as caught:
        explore(subjects.racy_flag, strategy="dpor", races="error")
    failure = caught.value
    assert isinstance(failure, InterleavingFailure)
    assert {c.what for c in failure.conflicts} == {"Config.flag"}
    assert "data race" in str(failure)
    assert "replay this schedule with" in str(failure)


def test_no_race_is_reported_where_a_lock_orders_the_accesses() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRaceWarning)
        result = explore(subjects.locked_flag, strategy="dpor", races="error")
    assert result.exhausted


@pytest.mark.parametrize("options", [{"races": "ignore"}, {"benign": ["Config.flag"]}])
def test_an_ignored_or_benign_race_is_not_reported(options: dict[str, object]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRaceWarning)
        result = explore(subjects.racy_flag, strategy="dpor", **options)  # type: ignore[arg-type]
    assert result.exhausted


def test_a_benign_mark_on_another_location_still_reports_the_race() -> None:
    with pytest.raises(DataRace):
        explore(subjects.racy_flag, strategy="dpor", races="error", benign=["Other.flag"])


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"strategy": "dpor", "races": "loud"}, ValueError, "races must be one of"),
        ({"strategy": "dfs", "races": "error"}, ValueError, "needs strategy='dpor'"),
        ({"strategy": "dpor", "benign": "Config.flag"}, TypeError, "benign must be a list"),
        ({"strategy": "dpor", "benign": [""]}, ValueError, "named as race reports"),
        ({"strategy": "pct", "benign": ["Config.flag"]}, ValueError, "benign= needs"),
    ],
)
def test_bad_race_options_are_refused(
    options: dict[str, object], error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=re.escape(text)):
        explore(subjects.racy_flag, **options)  # type: ignore[arg-type]


def test_the_marker_takes_races_and_benign(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_flag="""
import threading
import pytest

class Config:
    def __init__(self):
        self.flag = False

def body():
    config = Config()
    seen = []
    def setter():
        config.flag = True
    def reader():
        seen.append(config.flag)
    threads = [threading.Thread(target=setter), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

@pytest.mark.interleavings(strategy="dpor", races="error")
def test_racy():
    body()

@pytest.mark.interleavings(strategy="dpor", races="error", benign=["Config.flag"])
def test_benign():
    body()
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    assert "conflict on Config.flag" in result.stdout.str()


def test_a_container_race_can_be_marked_benign_by_its_reported_name() -> None:
    import memory_subjects

    # the double-checked cache reads its dict outside the lock: a race, by design
    with pytest.raises(DataRace) as caught:
        explore(memory_subjects.double_checked(2), strategy="dpor", races="error")
    assert {c.what for c in caught.value.conflicts} == {"dict['k']"}  # the one key raced on
    for name in ("dict['k']", "dict[items]"):  # the item, or every item of the container
        result = explore(
            memory_subjects.double_checked(2), strategy="dpor", races="error", benign=[name]
        )
        assert result.exhausted
