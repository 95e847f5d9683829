"""Live progress of long explorations: when it shows, what it says, how the loop reports it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator

import pytest

from pytest_concurrency import explore, spawn
from pytest_concurrency.world import progress, session_log
from pytest_concurrency.world.session_log import Exploration

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(
    ("isatty", "env", "worker", "expected"),
    [
        (True, {}, False, "live"),
        (False, {}, False, "off"),  # a pipe, a file: nobody watches it live
        (True, {"CI": "true"}, False, "off"),
        (True, {"CI": "1"}, False, "off"),
        (True, {"CI": "false"}, False, "live"),
        (True, {"TERM": "dumb"}, False, "off"),
        (True, {}, True, "off"),  # an xdist worker's output is not a terminal anyone sees
        (False, {progress.ENV_VAR: "live"}, True, "live"),
        (True, {progress.ENV_VAR: "off"}, False, "off"),
        (True, {progress.ENV_VAR: " Auto "}, False, "live"),
        (False, {progress.ENV_VAR: ""}, False, "off"),
    ],
)
def test_progress_mode(isatty: bool, env: dict[str, str], worker: bool, expected: str) -> None:
    assert progress.progress_mode(isatty=isatty, env=env, xdist_worker=worker) == expected


def test_a_bad_progress_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"PYTEST_CONCURRENCY_PROGRESS must be one of .*'lots'"):
        progress.progress_mode(isatty=True, env={progress.ENV_VAR: "lots"}, xdist_worker=False)


def test_describe() -> None:
    running = Exploration("dfs", None, 0.0, schedules=1234, elapsed=2.0, covered=0.42)
    assert progress.describe(running) == "dfs: 1234 schedules, 617/s, ~42% of the space"
    capped = Exploration("pct", 1000, 0.0, schedules=10, elapsed=0.0)
    assert progress.describe(capped) == "pct: 10 schedules of 1000, 0/s"


def test_the_progress_note_erases_itself_with_backspaces() -> None:
    line = progress.ProgressLine(room=40)
    assert line.clear() == ""
    first = line.update("12 schedules")
    assert first == " [12 schedules]"
    second = line.update("3 schedules")
    n = len(first)
    assert second == "\b" * n + " " * n + "\b" * n + " [3 schedules]"
    assert line.clear() == "\b" * 14 + " " * 14 + "\b" * 14
    assert line.clear() == ""
    cut = progress.ProgressLine(room=12).update("a very long description")
    assert cut == " [a very...]" and len(cut) == 12
    assert progress.ProgressLine(room=5).update("anything") == ""


class _Heard:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, float | None]] = []

    def exploration_started(self, exploration: Exploration) -> None:
        self.events.append(("started", exploration.schedules, exploration.covered))

    def exploration_progress(self, exploration: Exploration) -> None:
        self.events.append(("progress", exploration.schedules, exploration.covered))

    def exploration_finished(self, exploration: Exploration) -> None:
        self.events.append(("finished", exploration.schedules, exploration.covered))


@pytest.fixture
def heard() -> Iterator[_Heard]:
    listener = _Heard()
    session_log.subscribe(listener)
    try:
        yield listener
    finally:
        session_log.unsubscribe(listener)


def _ticking(step: float) -> Callable[[], float]:
    """A clock that moves ``step`` seconds each time it is read."""
    now = [0.0]

    def read() -> float:
        now[0] += step
        return now[0]

    return read


def test_the_loop_reports_progress_at_most_every_interval(
    heard: _Heard, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one read per schedule, 0.1 s each: one notice per 5 schedules at the 0.5 s interval
    monkeypatch.setattr(session_log, "_now", _ticking(0.1))
    explore(lambda: None, strategy="random", runs=30, seed=1)
    kinds = [event[0] for event in heard.events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    notices = [schedules for kind, schedules, _ in heard.events if kind == "progress"]
    assert 5 <= len(notices) <= 6
    assert all(b - a >= 4 for a, b in itertools.pairwise(notices))
    assert heard.events[-1][1] == 30


def _two_adders() -> None:
    box = {"n": 0}
    lock = threading.Lock()

    def add() -> None:
        for _ in range(2):
            with lock:
                box["n"] += 1

    workers = [spawn(add) for _ in range(2)]
    for worker in workers:
        worker.join()


def test_dfs_reports_how_much_of_its_space_is_covered(
    heard: _Heard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_log, "_now", _ticking(1.0))  # a notice after every schedule
    result = explore(_two_adders, strategy="dfs", preemption_bound=2)
    assert result.exhausted
    covered = [c for kind, _, c in heard.events if kind == "progress"]
    assert len(covered) == result.schedules_run and all(c is not None for c in covered)
    fractions = [c for c in covered if c is not None]
    assert fractions == sorted(fractions)  # never goes back
    assert 0 < fractions[len(fractions) // 2] < 1
    assert heard.events[-1] == ("finished", result.schedules_run, 1.0)


def test_random_strategies_do_not_claim_a_coverage(
    heard: _Heard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_log, "_now", _ticking(1.0))
    explore(_two_adders, strategy="pct", runs=3, seed=2)
    assert {c for _, _, c in heard.events} == {None}


_LONG = """
import pytest

@pytest.mark.interleavings(strategy="random", runs=12, seed=1)
def test_long():
    pass
"""


def _screen(text: str) -> list[str]:
    """What a terminal shows for ``text``: backspaces move left, later characters overwrite."""
    lines = []
    for raw in text.split("\n"):
        cells: list[str] = []
        cursor = 0
        for char in raw:
            if char == "\b":
                cursor = max(cursor - 1, 0)
                continue
            if cursor == len(cells):
                cells.append(char)
            else:
                cells[cursor] = char
            cursor += 1
        lines.append("".join(cells).rstrip())
    return lines


def _outcome_line(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("test_it.py"))


def test_a_long_exploration_shows_live_progress_when_forced(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(progress.ENV_VAR, "live")
    monkeypatch.setattr(session_log, "_now", _ticking(1.0))  # "long": seconds per schedule
    pytester.makepyfile(test_it=_LONG)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    # nothing before SHOW_AFTER seconds, then a note per schedule (one clock second each)
    assert " [random: 2 schedules of 12, 1/s]" in out
    assert " [random: 1 schedules" not in out
    assert out.count(" [random: ") == 11
    # every note is erased: the screen shows pytest's own line, as without progress
    monkeypatch.setenv(progress.ENV_VAR, "off")
    quiet = pytester.runpytest_inprocess("-p", "no:randomly").stdout.str()
    assert "\b" not in quiet
    assert _outcome_line(_screen(out)) == _outcome_line(_screen(quiet))
    assert _outcome_line(_screen(out)).startswith("test_it.py .")


@pytest.mark.parametrize("env", [{}, {progress.ENV_VAR: "off"}, {"CI": "true"}])
def test_no_live_progress_when_nobody_watches(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.delenv(progress.ENV_VAR, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(session_log, "_now", _ticking(1.0))
    pytester.makepyfile(test_it=_LONG)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "[random:" not in result.stdout.str() and "\b" not in result.stdout.str()


def test_a_bad_progress_variable_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(progress.ENV_VAR, "sometimes")
    pytester.makepyfile(test_it=_LONG)
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*PYTEST_CONCURRENCY_PROGRESS must be one of*'sometimes'*"])
