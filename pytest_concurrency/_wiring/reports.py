"""pytest wiring for what a session shows of its explorations: reports, progress, summary.

Thin on purpose. ``--interleavings-report=DIR`` (ini ``interleavings_report``)
writes one HTML page per failing exploration or replay, drawn by
:mod:`pytest_concurrency.world.html_report`, from the
``pytest_concurrency_interleaving_failure`` hook. A listener of
:mod:`pytest_concurrency.world.session_log` shows a live progress line for long
explorations (when :mod:`pytest_concurrency.world.progress` says a person is
watching) and collects what the terminal summary's "concurrency" section says;
pytest-xdist workers send their part to the controller.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_concurrency.world.progress import ProgressLine
    from pytest_concurrency.world.report import InterleavingFailure
    from pytest_concurrency.world.session_log import Exploration
    from pytest_concurrency.world.session_summary import SessionSummary

#: the key of a worker's summary in pytest-xdist's ``workeroutput``
_WORKER_KEY = "pytest_concurrency_summary"


class _SessionView:
    """The session's listener of explorations: progress line, summary records, report files."""

    def __init__(self, config: pytest.Config, report_dir: Path | None, mode: str) -> None:
        from pytest_concurrency.world.session_summary import SessionSummary

        self.config = config
        self.report_dir = report_dir
        self.mode = mode
        self.summary: SessionSummary = SessionSummary()
        self.nodeid = ""
        self._line: ProgressLine | None = None
        self._names: set[str] = set()

    # -- session_log listener ----------------------------------------------------------------

    def exploration_started(self, exploration: Exploration) -> None:
        if not self._innermost():
            return
        self._line = None

    def exploration_progress(self, exploration: Exploration) -> None:
        if not self._innermost():
            return
        from pytest_concurrency.world import progress

        if self.mode != "live" or exploration.elapsed < progress.SHOW_AFTER:
            return
        writer = self._writer()
        if writer is None:
            return
        if self._line is None:
            room = writer.fullwidth - writer.width_of_current_line - 1
            self._line = progress.ProgressLine(room)
        self._write(self._line.update(progress.describe(exploration)))

    def exploration_finished(self, exploration: Exploration) -> None:
        if not self._innermost():
            return
        from pytest_concurrency.world.session_summary import ExplorationRecord
        from pytest_concurrency.world.shards import Shard, unsharded_nodeid

        if self._line is not None:
            self._write(self._line.clear())
            self._line = None
        index, count = exploration.shard or (0, 1)
        test = unsharded_nodeid(self.nodeid, Shard(index, count)) if count > 1 else ""
        self.summary.explorations.append(
            ExplorationRecord(
                self.nodeid,
                exploration.strategy,
                exploration.schedules,
                exploration.elapsed,
                exploration.exhausted,
                exploration.granularity,
                exploration.preemption_bound,
                exploration.classes,
                exploration.failed,
                test=test,
                shard_index=index,
                shard_count=count,
            )
        )

    def _innermost(self) -> bool:
        return bool(_ACTIVE) and _ACTIVE[-1] is self

    # -- failures -------------------------------------------------------------------------------

    def failed(self, item: pytest.Item, failure: InterleavingFailure) -> None:
        from pytest_concurrency.world.session_summary import FailureRecord

        path = self._write_report(item, failure) if self.report_dir is not None else None
        self.summary.failures.append(
            FailureRecord(
                item.nodeid,
                str(failure).split("\n", 1)[0],
                failure.command,
                str(path) if path is not None else "",
            )
        )

    def _write_report(self, item: pytest.Item, failure: InterleavingFailure) -> Path:
        from pytest_concurrency.world.html_report import render

        assert self.report_dir is not None
        self.report_dir.mkdir(parents=True, exist_ok=True)
        path = self.report_dir / (self._unique_name(item.nodeid) + ".html")
        path.write_text(render(failure, title=item.nodeid), encoding="utf-8")
        return path

    def _unique_name(self, nodeid: str) -> str:
        """A file name for ``nodeid``: safe characters only, new in this session."""
        from pytest_concurrency.world.html_report import file_stem

        base = file_stem(nodeid)
        name, number = base, 1
        while name in self._names:
            number += 1
            name = f"{base}-{number}"
        self._names.add(name)
        return name

    # -- terminal ---------------------------------------------------------------------------------

    def _writer(self) -> Any:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        return getattr(reporter, "_tw", None)

    def _write(self, text: str) -> None:
        writer = self._writer()
        if not text or writer is None:
            return
        # pytest captures the test's output while it runs: write past the capture, to the
        # terminal, without the terminal writer's bookkeeping (the note erases itself)
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        suspended = (
            capture.global_and_fixture_disabled()
            if capture is not None
            else contextlib.nullcontext()
        )
        with suspended:
            stream = getattr(writer, "_file", sys.stdout)
            stream.write(text)
            stream.flush()


_VIEW = pytest.StashKey[_SessionView]()
#: the views of the sessions configured in this process, innermost last (a test that runs
#: pytest in-process has two): only the innermost hears of explorations
_ACTIVE: list[_SessionView] = []


def _report_dir(config: pytest.Config) -> Path | None:
    """``--interleavings-report``, relative to where pytest was started; else the ini value."""
    value = config.getoption("interleavings_report")
    base = config.invocation_params.dir
    if value is None:
        value = str(config.getini("interleavings_report") or "").strip()
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        if not value:
            return None
    if not str(value).strip():
        raise pytest.UsageError("--interleavings-report needs a directory, got an empty value")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if path.exists() and not path.is_dir():
        raise pytest.UsageError(f"--interleavings-report: {path} exists and is not a directory")
    return path


def pytest_configure(config: pytest.Config) -> None:
    from pytest_concurrency.world import progress, session_log

    # pytest's terminal writes to this stream; capturing is suspended while plugins configure
    isatty = bool(getattr(sys.stdout, "isatty", lambda: False)())
    try:
        mode = progress.progress_mode(
            isatty=isatty, env=os.environ, xdist_worker=hasattr(config, "workerinput")
        )
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    view = _SessionView(config, _report_dir(config), mode)
    config.stash[_VIEW] = view
    session_log.subscribe(view)
    _ACTIVE.append(view)
    config.add_cleanup(lambda: _forget(view))


def _forget(view: _SessionView) -> None:
    from pytest_concurrency.world import session_log

    session_log.unsubscribe(view)
    if view in _ACTIVE:
        _ACTIVE.remove(view)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> None:
    """Remember which test runs, to name its explorations."""
    view = item.config.stash.get(_VIEW, None)
    if view is not None:
        view.nodeid = item.nodeid


def pytest_concurrency_interleaving_failure(
    item: pytest.Item, failure: InterleavingFailure
) -> None:
    view = item.config.stash.get(_VIEW, None)
    if view is not None:
        view.failed(item, failure)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its part of the summary to the controller."""
    config = session.config
    view = config.stash.get(_VIEW, None)
    workeroutput = getattr(config, "workeroutput", None)
    if view is not None and workeroutput is not None:
        workeroutput[_WORKER_KEY] = view.summary.to_data()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the pytest-xdist controller: add a finished worker's part of the summary."""
    config = node.config
    view = config.stash.get(_VIEW, None)
    data = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if view is not None and data:
        view.summary.merge_data(data)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    view = config.stash.get(_VIEW, None)
    if view is None:
        return
    lines = view.summary.lines()
    if not lines:
        return
    terminalreporter.write_sep("=", "concurrency")
    for line in lines:
        terminalreporter.write_line(line)
