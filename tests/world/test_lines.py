"""Line-level preemption: what is traced, what a line point is, options, tokens, backends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import pytest_concurrency.world.scheduler as scheduler_module
from pytest_concurrency.demo.zoo import check_then_set, lazy_singleton, lost_update
from pytest_concurrency.world import token as tokens
from pytest_concurrency.world.api import ExploreOptions, explore, replay, run_replay
from pytest_concurrency.world.lines import LineTracing, default_backend, python_version
from pytest_concurrency.world.report import InterleavingFailure, UncontrolledBlock
from pytest_concurrency.world.runner import run_schedule
from pytest_concurrency.world.selection import TraceSelection
from pytest_concurrency.world.strategies import make_strategy
from pytest_concurrency.world.token import ReplayTokenError

HERE = os.path.abspath(__file__)


def _racy_registry() -> None:
    """A lock-free check-then-set whose code lives in this test file (traced by default)."""
    items: dict[str, object] = {}
    made: list[int] = []

    def get() -> None:
        if "key" not in items:
            made.append(1)
            items["key"] = object()

    threads = [threading.Thread(target=get) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1, "made twice"


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"granularity": "bytecode"},
            ValueError,
            r"granularity must be one of 'sync', 'line', 'opcode'",
        ),
        ({"timers": "never"}, ValueError, r"timers must be one of 'autojump', 'choice'"),
        (
            {"granularity": "sync", "trace": [HERE]},
            ValueError,
            r"trace= .* needs granularity='line'",
        ),
        ({"granularity": "line", "trace": [42]}, TypeError, r"trace entries must be modules"),
        ({"granularity": "line", "trace": 4.2}, TypeError, r"trace must be a module"),
        ({"granularity": "line", "trace": []}, ValueError, r"at least one"),
        ({"granularity": "line", "trace": ["no_such_module_xyz"]}, ValueError, r"no module"),
        ({"granularity": "line", "trace": ["/nowhere/x.py"]}, ValueError, r"no module, package"),
        ({"granularity": "line", "trace": [scheduler_module]}, ValueError, r"own harness"),
        ({"granularity": "line", "trace": ["_thread"]}, ValueError, r"not Python source"),
    ],
)
def test_line_options_are_validated(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        explore(lambda: None, **kwargs)


# -- what is traced ----------------------------------------------------------------------------


def test_default_selection_is_the_scenario_file_plus_project_code_under_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    (tmp_path / "tests").mkdir()
    for name in ("app/guard.py", "tests/helpers.py", "test_other.py", "conftest.py"):
        (tmp_path / name).write_text("x = 1\n")
    selection = TraceSelection.create(None, _racy_registry)
    assert selection.covers_file(HERE)  # the scenario's own file, though a test file
    assert selection.covers_file(str(tmp_path / "app" / "guard.py"))
    for untraced in ("tests/helpers.py", "test_other.py", "conftest.py"):
        assert not selection.covers_file(str(tmp_path / untraced)), untraced
    assert not selection.covers_file(threading.__file__)  # the standard library
    assert not selection.covers_file(pytest.__file__)  # site-packages
    assert not selection.covers_file(scheduler_module.__file__)  # the harness
    assert not selection.covers_file(lost_update.__file__)  # this package, unless named
    assert not selection.covers_file("<string>")
    assert selection.description == ""


def test_explicit_selection_by_module_name_package_and_path(tmp_path: Path) -> None:
    zoo_dir = os.path.dirname(lost_update.__file__)
    by_module = TraceSelection.create(lost_update, None)
    assert by_module.covers_file(lost_update.__file__)
    assert not by_module.covers_file(check_then_set.__file__)
    by_name = TraceSelection.create("pytest_concurrency.demo.zoo.check_then_set", None)
    assert by_name.covers_file(check_then_set.__file__)
    by_package = TraceSelection.create(["pytest_concurrency.demo.zoo"], None)
    assert by_package.covers_file(lost_update.__file__)
    by_path = TraceSelection.create(Path(zoo_dir), None)
    assert by_path.covers_file(check_then_set.__file__)
    assert not by_path.covers_file(HERE)
    # the harness stays out even inside a named directory
    whole = TraceSelection.create(os.path.dirname(os.path.dirname(zoo_dir)), None)
    assert whole.covers_file(lost_update.__file__)
    assert not whole.covers_file(scheduler_module.__file__)


def test_only_function_code_is_traced_and_tags_follow_the_request() -> None:
    selection = TraceSelection.create([HERE], None)
    assert selection.covers(_racy_registry.__code__)
    module_code = compile("x = 1", HERE, "exec")
    assert not selection.covers(module_code)  # module and class bodies run at import
    assert TraceSelection.create([HERE], None).tag == selection.tag
    assert TraceSelection.create([HERE, lost_update], None).tag != selection.tag


# -- line points -------------------------------------------------------------------------------


def test_a_lock_free_race_needs_line_granularity() -> None:
    at_sync = explore(_racy_registry, strategy="dfs")
    assert at_sync.exhausted
    with pytest.raises(InterleavingFailure, match="made twice") as info:
        explore(_racy_registry, strategy="dfs", granularity="line")
    trace = str(info.value.trace)
    assert 'if "key" not in items:' in trace  # a line point shows the line's source
    assert "test_lines.py:" in trace


def test_code_outside_trace_gets_no_line_points() -> None:
    elsewhere = explore(
        check_then_set.buggy, strategy="dfs", granularity="line", trace=[lost_update]
    )
    assert elsewhere.exhausted
    with pytest.raises(InterleavingFailure):
        explore(check_then_set.buggy, strategy="dfs", granularity="line", trace=[check_then_set])


def test_a_spin_loop_on_a_runnable_thread_hits_the_step_budget() -> None:
    def spinner() -> None:
        flag = {"set": False}

        def wait() -> None:
            while not flag["set"]:
                pass

        thread = threading.Thread(target=wait)
        thread.start()
        flag["set"] = True
        thread.join()

    with pytest.raises(InterleavingFailure, match="max_steps=300"):
        explore(spinner, strategy="dfs", granularity="line", max_steps=300)


def test_a_real_lock_held_across_traced_lines_is_an_uncontrolled_block() -> None:
    # the module-level lock is real unless patched (tests/zoo explores it patched)
    with pytest.raises(UncontrolledBlock, match="with _lock:"):
        explore(lazy_singleton.fixed, strategy="dfs", granularity="line", uncontrolled_timeout=0.3)


def test_unwinding_a_thread_in_traced_code_makes_no_more_points() -> None:
    cleaned: list[int] = []

    def scenario() -> None:
        def worker() -> None:
            try:
                for step in range(50):
                    cleaned.append(step)
            finally:
                cleaned.append(-1)
                cleaned.append(-2)

        thread = threading.Thread(target=worker)
        thread.start()
        raise AssertionError("the scenario fails while the worker is mid-loop")

    with pytest.raises(InterleavingFailure, match="mid-loop") as info:
        explore(scenario, strategy="pct", seed=3, runs=5, granularity="line")
    assert "UncontrolledBlock" not in type(info.value).__name__
    assert cleaned.count(-1) == cleaned.count(-2)  # every finally block ran to its end


# -- tokens ------------------------------------------------------------------------------------


def test_line_tokens_carry_the_python_version_and_replay_exactly() -> None:
    with pytest.raises(InterleavingFailure) as info:
        explore(lost_update.buggy, strategy="random", seed=1, runs=100, granularity="line")
    token = info.value.token
    schedule = tokens.decode(token)
    assert schedule.granularity == "line"
    assert schedule.python == python_version()
    for _ in range(10):  # the granularity comes from the token
        with pytest.raises(InterleavingFailure) as again:
            replay(lost_update.buggy, token)
        assert again.value.token == token
        # (pytest rewrites the zoo's asserts: compare the message, not the object reprs)
        first_line = str(info.value.__cause__).splitlines()[0]
        assert str(again.value.__cause__).splitlines()[0] == first_line


def test_a_line_token_replays_in_another_process() -> None:
    with pytest.raises(InterleavingFailure) as info:
        explore(check_then_set.buggy, strategy="pct", seed=2, runs=100, granularity="line")
    code = (
        "from pytest_concurrency.demo.zoo import check_then_set\n"
        "from pytest_concurrency.world.api import replay\n"
        "from pytest_concurrency.world.report import InterleavingFailure\n"
        "for _ in range(5):\n"
        "    try:\n"
        f"        replay(check_then_set.buggy, {info.value.token!r})\n"
        "    except InterleavingFailure as failure:\n"
        "        print('FAILED', str(failure.__cause__).splitlines()[0])\n"
        "    else:\n"
        "        print('PASSED')\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    first = str(info.value.__cause__).splitlines()[0]
    assert done.stdout.splitlines() == [f"FAILED {first}"] * 5, done.stderr


def test_a_line_token_from_another_python_version_is_refused() -> None:
    other = (python_version()[0], python_version()[1] + 1)
    tag = tokens.scenario_tag(lost_update.buggy)
    token = tokens.encode([1, 2], tag, "line", python=other)
    with pytest.raises(ReplayTokenError, match=r"recorded on Python 3\.\d+ and this is Python"):
        replay(lost_update.buggy, token)


def test_a_line_token_needs_the_same_trace_selection_and_granularity() -> None:
    with pytest.raises(InterleavingFailure) as info:
        explore(
            lost_update.buggy,
            strategy="pct",
            seed=1,
            runs=100,
            granularity="line",
            trace=[lost_update],
        )
    token = info.value.token
    with pytest.raises(ReplayTokenError, match="another trace= selection"):
        replay(lost_update.buggy, token)  # the default selection differs
    with pytest.raises(ReplayTokenError, match="granularity='line', not 'sync'"):
        run_replay(lost_update.buggy, token, ExploreOptions.create(granularity="sync"))
    with pytest.raises(InterleavingFailure):
        replay(lost_update.buggy, token, trace=[lost_update])


def test_sync_tokens_are_unchanged_and_old_ones_still_decode() -> None:
    old = "pc1.AMPVAQMAAgIDAQHnTj5e"  # printed by the version before line granularity
    schedule = tokens.decode(old)
    assert (schedule.granularity, schedule.timers, schedule.python) == ("sync", "autojump", None)
    assert tokens.encode(schedule.choices, schedule.tag) == old


# -- backends ----------------------------------------------------------------------------------


def _run_dfs(scenario: Any, settings: Any) -> bool:
    """Exhaust dfs (bound 2) over ``settings``; True when some schedule failed."""
    strategy = make_strategy("dfs", seed=0, depth=3, preemption_bound=2)
    with settings.lines:
        while strategy.begin_run():
            result = run_schedule(scenario, strategy, settings)
            strategy.end_run(len(result.choices))
            if result.failure is not None:
                assert result.failure.kind == "exception", result.failure.summary
                return True
    return False


def test_settrace_backend_chains_to_a_pre_existing_thread_tracer() -> None:
    """Works on every version; on 3.12+ the settrace backend is forced to test it."""
    seen: set[int] = set()
    setter = lost_update.Counter.value.fset.__code__  # type: ignore[attr-defined]
    store_line = max(line for _, _, line in setter.co_lines() if line is not None)

    def recorder(frame: Any, event: str, arg: object) -> Any:
        if frame.f_code.co_filename == lost_update.__file__:

            def local(frame: Any, event: str, arg: object) -> Any:
                if event == "line":
                    seen.add(frame.f_lineno)
                return local

            return local
        return None

    options = ExploreOptions.create(granularity="line")
    settings = options.run_settings(lost_update.buggy)
    assert settings.lines is not None
    forced = type(settings)(
        settings.max_steps,
        settings.uncontrolled_timeout,
        settings.thread_errors,
        settings.patch_plans,
        lines=LineTracing(settings.lines.selection, "settrace"),
    )
    previous = getattr(threading, "_trace_hook", None)  # coverage's, under coverage
    threading.settrace(recorder)
    try:
        assert _run_dfs(lost_update.buggy, forced)  # the bug is still found
        assert threading._trace_hook is recorder  # type: ignore[attr-defined]
    finally:
        threading.settrace(previous)
    assert store_line in seen  # the setter's body ran only in controlled threads


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_monitoring_backend_needs_a_free_tool_id_and_frees_its_own() -> None:
    from pytest_concurrency.world import monitoring

    api: Any = getattr(sys, "monitoring")  # noqa: B009 (typeshed for 3.10 lacks it)
    assert default_backend() == "monitoring"
    explore(lost_update.fixed, strategy="pct", seed=1, runs=3, granularity="line")
    assert all(api.get_tool(tool) is None for tool in monitoring.TOOL_IDS)
    claimed = []
    try:
        for tool in monitoring.TOOL_IDS:
            if api.get_tool(tool) is None:
                api.use_tool_id(tool, "someone else")
                claimed.append(tool)
        with pytest.raises(RuntimeError, match=r"free sys.monitoring tool id.*someone else"):
            explore(lost_update.fixed, runs=1, granularity="line")
    finally:
        for tool in claimed:
            api.free_tool_id(tool)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the settrace fallback is for < 3.12")
def test_settrace_is_the_backend_before_312() -> None:
    assert default_backend() == "settrace"
    with pytest.raises(ValueError, match=r"3\.12"):
        LineTracing(TraceSelection.create([HERE], None), "monitoring")


#: two threads get a registry entry made once: found when guard.py is traced
_SCENARIO = """
import threading
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure
import guard

def scenario():
    registry = guard.Registry()
    threads = [threading.Thread(target=registry.get) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.made == 1
"""

_COVERED = (
    _SCENARIO
    + """
try:
    explore(scenario, strategy="dfs", granularity="line", trace=[guard])
except InterleavingFailure:
    print("FOUND")
"""
)

_GUARD = """
class Registry:
    def __init__(self):
        self.made = 0
        self.items = {}

    def get(self):
        if "k" not in self.items:
            self.made += 1
            self.items["k"] = object()
"""


def _drive_under_coverage(
    directory: Path, data: Path, core: str | None
) -> subprocess.CompletedProcess[str]:
    """Run ``directory/drive.py`` under ``coverage run`` (its default core unless ``core``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(directory), *sys.path])}
    env.pop("COVERAGE_CORE", None)
    if core is not None:
        env["COVERAGE_CORE"] = core
    return subprocess.run(
        [sys.executable, "-m", "coverage", "run", f"--data-file={data}", "drive.py"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("core", ["default", "sysmon"])
def test_coverage_keeps_recording_controlled_threads(tmp_path: Path, core: str) -> None:
    pytest.importorskip("coverage")
    if core == "sysmon" and sys.version_info < (3, 12):
        pytest.skip("coverage's sys.monitoring core is 3.12+")
    (tmp_path / "guard.py").write_text(_GUARD)
    (tmp_path / "drive.py").write_text(_COVERED)
    data = tmp_path / ".coverage"
    done = _drive_under_coverage(tmp_path, data, "sysmon" if core == "sysmon" else None)
    assert done.stdout.strip() == "FOUND", done.stdout + done.stderr
    import coverage

    recorded = coverage.CoverageData(basename=str(data))
    recorded.read()
    lines = recorded.lines(str(tmp_path / "guard.py")) or []
    assert {8, 9, 10} <= set(lines)  # get()'s body runs only in controlled threads


_TRACED_LATER = (
    _SCENARIO
    + """
import other

for module in (other, guard):  # guard's code runs untraced first, then traced
    try:
        explore(scenario, strategy="dpor", trace=[module])
        print("passed with", module.__name__)
    except ValueError:  # it saw no shared memory: it refuses to call that a pass
        print("refused with", module.__name__)
    except InterleavingFailure:
        print("found with", module.__name__)
"""
)


def test_code_run_untraced_by_an_earlier_exploration_is_traced_later_under_coverage(
    tmp_path: Path,
) -> None:
    """On 3.12+ the first start of untraced code is switched off for good (``DISABLE``).

    A later exploration that traces that code must still get its events, with
    coverage's tracer running too (the order of switching events on matters there).
    """
    pytest.importorskip("coverage")
    (tmp_path / "guard.py").write_text(_GUARD)
    (tmp_path / "other.py").write_text("def unused():\n    return 1\n")
    (tmp_path / "drive.py").write_text(_TRACED_LATER)
    done = _drive_under_coverage(tmp_path, tmp_path / "data", None)
    assert done.stdout.split("\n")[:2] == ["refused with other", "found with guard"], (
        done.stdout + done.stderr
    )
