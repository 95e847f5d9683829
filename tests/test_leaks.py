"""The leak detectors as a library: each kind finds a real leak, with where it was created.

Every test that creates a leak on purpose cleans it up afterwards, so the suite
itself leaves nothing behind (and passes under ``--leaks=all``).
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pytest_concurrency import _realtime
from pytest_concurrency.leaks import (
    KINDS,
    Frame,
    Leak,
    LeakChecker,
    LeakReport,
    RegistryWatcher,
    parse_kinds,
)
from pytest_concurrency.leaks import fds as fds_module
from pytest_concurrency.leaks import processes as processes_module
from pytest_concurrency.leaks.threads import ThreadDetector

BOUND = 5.0  # seconds: every wait in these tests is bounded by this
HAS_PROC = os.path.isdir("/proc/self")


def line_after() -> int:
    """The caller's next line number: pins the creation site a report must name."""
    return sys._getframe(1).f_lineno + 1


def site_of(leak: Leak) -> tuple[str, int] | None:
    """The file and line a leak is blamed on."""
    return None if leak.site is None else (leak.site.filename, leak.site.lineno)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """An event that parked threads wait on; set at teardown so nothing outlives the test."""
    event = threading.Event()
    yield event
    event.set()


def park(stop: threading.Event) -> None:
    stop.wait(BOUND)


# -- kinds ---------------------------------------------------------------------------------------


def test_parse_kinds_accepts_text_iterables_and_all() -> None:
    assert parse_kinds("fds, threads") == ("threads", "fds")
    assert parse_kinds(["tempfiles", "threads", "threads"]) == ("threads", "tempfiles")
    assert parse_kinds("all") == KINDS == ("threads", "fds", "processes", "tasks", "tempfiles")
    assert parse_kinds("fds,all") == KINDS
    assert parse_kinds("") == parse_kinds([]) == parse_kinds(" , ") == ()


def test_unknown_kind_is_a_value_error_listing_the_valid_kinds() -> None:
    with pytest.raises(ValueError) as error:
        parse_kinds("threads,bogus")
    assert str(error.value) == (
        "unknown leak kind 'bogus'; valid kinds: threads, fds, processes, tasks, tempfiles "
        "(or 'all')"
    )
    with pytest.raises(TypeError, match="leak kinds must be strings, got int"):
        parse_kinds([3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown leak kind 'thread'"):
        LeakChecker("thread")


@pytest.mark.parametrize(
    ("grace", "error", "message"),
    [
        (-1, ValueError, "grace must be a finite number of seconds >= 0, got -1"),
        (float("inf"), ValueError, "got inf"),
        ("1", TypeError, "grace must be a number of seconds, got str"),
        (True, TypeError, "got bool"),
    ],
)
def test_grace_is_validated(grace: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        LeakChecker("threads", grace=grace)  # type: ignore[arg-type]


def test_checker_lifecycle_misuse_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before start"):
        LeakChecker(()).finish()
    checker = LeakChecker(()).start()
    with pytest.raises(RuntimeError, match="already started"):
        checker.start()
    assert checker.finish() is checker.finish()  # a second finish returns the same report


# -- report --------------------------------------------------------------------------------------


def test_report_format_names_each_leak_and_its_creation_site() -> None:
    site_line = line_after()
    marker_line = "the source line a report quotes"  # noqa: F841
    stack = (Frame(__file__, site_line, "make"), Frame(__file__, 1, "caller"))
    report = LeakReport(
        leaks=(
            Leak("threads", "thread 'worker' (daemon)", stack),
            Leak("fds", "fd 7 -> pipe:[1]"),
            Leak("fds", "fd 8 -> pipe:[1]"),
        ),
        kinds=("threads", "fds"),
        notes=("something to know",),
        grace=0.25,
    )
    here = os.path.relpath(__file__)
    assert bool(report)
    assert report.summary() == "leaked 1 thread, 2 fds"
    assert report.by_kind("fds") == report.leaks[1:]
    assert report.leaks[0].site == stack[0]
    assert report.format().splitlines() == [
        "leaked 1 thread, 2 fds (checked: threads, fds; grace 0.25 s)",
        "- thread 'worker' (daemon)",
        f"    created at {here}:{site_line} in make",
        '        marker_line = "the source line a report quotes"  # noqa: F841',
        "    creation stack, innermost first:",
        f"      {here}:{site_line} in make",
        f"      {here}:1 in caller",
        "- fd 7 -> pipe:[1]",
        "- fd 8 -> pipe:[1]",
        "note: something to know",
    ]


def test_an_empty_report_is_false_and_says_what_was_checked() -> None:
    report = LeakReport(kinds=("tempfiles",))
    assert not report
    assert report.format() == "no leaks (checked: tempfiles)"


# -- threads -------------------------------------------------------------------------------------


def test_a_leaked_thread_is_reported_with_its_creation_site(stop: threading.Event) -> None:
    checker = LeakChecker("threads", grace=0.0).start()
    thread = threading.Thread(target=park, args=(stop,), name="parked", daemon=True)
    start_line = line_after()
    thread.start()
    report = checker.finish()

    (leak,) = report.by_kind("threads")
    assert leak.site == Frame(__file__, start_line, sys._getframe().f_code.co_name)
    assert leak.description.startswith(f"thread 'parked' (daemon; target {park.__module__}.park;")
    assert "now at " in leak.description and " in park)" in leak.description
    assert "thread.start()" in report.format()
    stop.set()
    thread.join(BOUND)


def test_pool_threads_are_blamed_on_the_submitting_line() -> None:
    checker = LeakChecker("threads", grace=0.0).start()
    release = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        submit_line = line_after()
        pool.submit(release.wait, BOUND)
        report = checker.finish()
    finally:
        release.set()
        pool.shutdown(wait=True)
    (leak,) = report.leaks
    assert site_of(leak) == (__file__, submit_line)
    # the executor's own frames only relay the creation: the stack starts at the user's line
    assert (leak.stack[0].filename, leak.stack[0].lineno) == (__file__, submit_line)


def test_threads_that_finish_within_the_grace_period_are_not_leaks() -> None:
    release = threading.Event()
    checker = LeakChecker("threads").start()
    thread = threading.Thread(target=release.wait, args=(BOUND,))
    thread.start()
    release.set()  # finishing, perhaps not finished yet: the grace period waits for it
    assert not checker.finish(grace=BOUND)
    assert not thread.is_alive()


def test_the_grace_period_is_waited_for_a_thread_still_running(stop: threading.Event) -> None:
    checker = LeakChecker("threads").start()
    thread = threading.Thread(target=park, args=(stop,))
    thread.start()
    started = _realtime.monotonic()
    report = checker.finish(grace=0.05)
    waited = _realtime.monotonic() - started
    stop.set()
    thread.join(BOUND)
    assert len(report.leaks) == 1
    assert 0.05 <= waited < BOUND
    assert report.grace == 0.05


def test_threads_alive_at_the_start_are_not_reported(stop: threading.Event) -> None:
    before = threading.Thread(target=park, args=(stop,))
    before.start()
    report = LeakChecker("threads", grace=0.0).start().finish()
    stop.set()
    before.join(BOUND)
    assert not report


def test_harness_threads_are_never_reported_nor_waited_for(stop: threading.Event) -> None:
    def xdist_loop() -> None:
        stop.wait(BOUND)

    xdist_loop.__module__ = "xdist.looponfail"  # as if defined by pytest-xdist
    checker = LeakChecker("threads").start()
    threads = [
        threading.Thread(target=park, args=(stop,), name="pytest-concurrency-scheduler"),
        threading.Timer(BOUND, print),  # pytest-timeout names its timer like this:
        threading.Thread(target=xdist_loop),
    ]
    threads[1].name = "pytest_timeout test_x.py::test_y"
    for thread in threads:
        thread.start()
    started = _realtime.monotonic()
    report = checker.finish(grace=BOUND)
    waited = _realtime.monotonic() - started
    stop.set()
    threads[1].cancel()  # type: ignore[attr-defined]
    for thread in threads:
        thread.join(BOUND)
    assert not report
    assert waited < BOUND / 2  # a harness thread may live for the whole run: no grace for it


def test_thread_start_is_restored_whatever_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    original, original_mkdtemp = threading.Thread.start, tempfile.mkdtemp
    checker = LeakChecker("threads,tempfiles").start()
    assert threading.Thread.start is not original
    assert tempfile.mkdtemp is not original_mkdtemp

    def broken(self: ThreadDetector, deadline: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadDetector, "finish", broken)
    with pytest.raises(KeyboardInterrupt):
        checker.finish()
    assert threading.Thread.start is original
    assert tempfile.mkdtemp is original_mkdtemp

    failing = LeakChecker("threads")
    with pytest.raises(ZeroDivisionError):
        fail_inside(failing)
    assert threading.Thread.start is original and failing.report is None


def fail_inside(checker: LeakChecker) -> None:
    with checker:
        assert threading.Thread.start.__wrapped__  # type: ignore[attr-defined]  # ours
        raise ZeroDivisionError


def test_checkers_nest() -> None:
    original = threading.Thread.start
    release = threading.Event()
    with LeakChecker("threads", grace=BOUND) as outer:
        with LeakChecker("threads", grace=BOUND) as inner:
            thread = threading.Thread(target=release.wait, args=(BOUND,))
            thread.start()
            release.set()
        assert threading.Thread.start is not original
    assert threading.Thread.start is original
    assert inner.report is not None and not inner.report
    assert outer.report is not None and not outer.report


# -- fds -----------------------------------------------------------------------------------------


def test_a_leaked_fd_is_reported_with_its_target() -> None:
    checker = LeakChecker("fds").start()
    read_end, write_end = os.pipe()
    try:
        report = checker.finish()
    finally:
        os.close(read_end)
        os.close(write_end)
    descriptions = [leak.description for leak in report.by_kind("fds")]
    assert [d.split(" -> ")[0] for d in descriptions] == [f"fd {read_end}", f"fd {write_end}"]
    if HAS_PROC:
        assert all(" -> pipe:[" in d for d in descriptions)


def test_closed_fds_and_the_checkers_own_listing_are_not_reported() -> None:
    checker = LeakChecker("fds").start()
    with open(__file__, "rb") as file:
        file.read(1)
    assert not checker.finish()


def test_a_platform_without_an_fd_directory_skips_the_kind_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fds_module, "_FD_DIRS", ("/nonexistent/fd",))
    checker = LeakChecker("fds").start()
    read_end, write_end = os.pipe()
    report = checker.finish()
    os.close(read_end)
    os.close(write_end)
    assert not report
    assert report.notes == ("fds not checked: no /proc/self/fd or /dev/fd on this platform",)


# -- processes -----------------------------------------------------------------------------------

needs_proc = pytest.mark.skipif(not HAS_PROC, reason="child processes are read from /proc")
TRUE = shutil.which("true") or "/bin/true"


READING_CODE = "print('ready', flush=True); import sys; sys.stdin.read()"


def _reading_child(marker: str = "") -> subprocess.Popen[bytes]:
    """A child that runs until its stdin is closed, returned once it is running its code.

    Until then ``/proc/<pid>/cmdline`` may still be empty (the exec is under way).
    """
    child = subprocess.Popen(
        [sys.executable, "-c", f"{READING_CODE}  # {marker}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    readable, _, _ = select.select([child.stdout], [], [], BOUND)
    assert readable and child.stdout.readline() == b"ready\n"
    return child


def _end(child: subprocess.Popen[bytes]) -> None:
    child.communicate(timeout=BOUND)


@pytest.fixture(params=["children files", "scan of /proc"])
def listing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of finding children: the kernel's children files, and the fallback scan."""
    if request.param == "scan of /proc":
        read = processes_module._read

        def without_children_files(path: str) -> bytes | None:
            return None if path.endswith("/children") else read(path)

        monkeypatch.setattr(processes_module, "_read", without_children_files)
    return str(request.param)


@needs_proc
def test_a_running_child_is_reported_with_pid_and_command_line(listing: str) -> None:
    checker = LeakChecker("processes", grace=0.0).start()
    child = _reading_child()
    helper = _reading_child("multiprocessing.resource_tracker")  # a process-wide helper
    try:
        report = checker.finish()
    finally:
        _end(child)
        _end(helper)
    assert [leak.description for leak in report.leaks] == [
        f"process {child.pid} (running): {sys.executable} -c {READING_CODE}  #"
    ]


@needs_proc
def test_a_child_never_waited_for_is_reported_as_a_zombie() -> None:
    checker = LeakChecker("processes", grace=0.0).start()
    child = subprocess.Popen([TRUE])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
    report = checker.finish()
    child.wait(BOUND)
    assert [leak.description for leak in report.leaks] == [
        f"process {child.pid} (zombie: exited but never waited for): [true]"
    ]


@needs_proc
def test_children_waited_for_within_the_grace_period_are_not_leaks() -> None:
    checker = LeakChecker("processes").start()
    subprocess.run([TRUE], check=True)
    child = _reading_child()
    reaper = threading.Thread(target=child.wait, args=(BOUND,))
    reaper.start()
    assert child.stdin is not None
    child.stdin.close()  # the child exits, and the reaper waits for it, perhaps during finish
    report = checker.finish(grace=BOUND)
    reaper.join(BOUND)
    assert child.stdout is not None
    child.stdout.close()
    assert not report


# -- tasks ---------------------------------------------------------------------------------------


async def sleep_forever() -> None:
    await asyncio.sleep(3600)


def test_a_pending_task_is_reported_with_its_coroutine_and_creation_site() -> None:
    loop = asyncio.new_event_loop()
    loop.set_debug(True)  # records where tasks are created
    try:
        checker = LeakChecker("tasks").start()
        create_line = line_after()
        task = loop.create_task(sleep_forever())
        report = checker.finish()
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    finally:
        loop.close()
    (leak,) = report.leaks
    assert leak.description.startswith("<Task pending name=")
    assert "coro=<sleep_forever()" in leak.description
    assert site_of(leak) == (__file__, create_line)


def test_finished_tasks_and_tasks_pending_at_the_start_are_not_reported() -> None:
    loop = asyncio.new_event_loop()
    try:
        earlier = loop.create_task(sleep_forever())
        checker = LeakChecker("tasks").start()
        loop.run_until_complete(asyncio.sleep(0))
        assert asyncio.run(asyncio.wait_for(asyncio.sleep(0, "done"), BOUND)) == "done"
        report = checker.finish()
        earlier.cancel()
        loop.run_until_complete(asyncio.gather(earlier, return_exceptions=True))
    finally:
        loop.close()
    assert not report


# -- tempfiles -----------------------------------------------------------------------------------


def test_temp_files_and_directories_left_behind_are_reported_where_created() -> None:
    checker = LeakChecker("tempfiles").start()
    file_line = line_after()
    fd, path = tempfile.mkstemp(suffix=".leak")
    os.close(fd)
    named = tempfile.NamedTemporaryFile(delete=False)  # noqa: SIM115
    named.close()
    directory = tempfile.mkdtemp()
    report = checker.finish()
    os.unlink(path)
    os.unlink(named.name)
    os.rmdir(directory)

    by_description = {leak.description: leak for leak in report.leaks}
    assert set(by_description) == {
        f"temp file {path}",
        f"temp file {named.name}",
        f"temp directory {directory}",
    }
    assert site_of(by_description[f"temp file {path}"]) == (__file__, file_line)


def test_temp_files_cleaned_up_are_not_reported() -> None:
    checker = LeakChecker("tempfiles").start()
    with tempfile.TemporaryDirectory() as directory, tempfile.NamedTemporaryFile(dir=directory):
        pass
    fd, path = tempfile.mkstemp()
    os.close(fd)
    os.unlink(path)
    with tempfile.TemporaryFile():
        pass
    assert not checker.finish()


# -- registries ----------------------------------------------------------------------------------


def test_a_registry_that_grew_is_reported_with_before_after_and_growth() -> None:
    locks: dict[str, threading.Lock] = {"warm": threading.Lock()}
    watcher = RegistryWatcher()
    watcher.watch(locks, name="locks")
    for request in range(3):
        locks[f"request-{request}"] = threading.Lock()
    (leak,) = watcher.check()
    assert leak.kind == "registries"
    assert leak.description == "registry 'locks' grew by 3 (before 1, after 4; max_growth 0)"
    assert watcher.report().format() == (
        "leaked 1 registry (checked: registries)\n"
        "- registry 'locks' grew by 3 (before 1, after 4; max_growth 0)"
    )


def test_growth_within_max_growth_and_size_callables() -> None:
    listeners: list[object] = []
    checker = LeakChecker(())
    allowed = checker.watch(listeners, max_growth=2)
    sized = checker.watch(lambda: len(listeners) * 10)
    checker.start()
    listeners += [object(), object()]
    report = checker.finish()
    assert allowed.size() == 2 and sized.size() == 20
    assert [leak.description for leak in report.leaks] == [
        "registry 'test_growth_within_max_growth_and_size_callables.<locals>.<lambda>' "
        "grew by 20 (before 0, after 20; max_growth 0)"
    ]
    assert report.kinds == ("registries",)


def test_watch_validates_its_arguments() -> None:
    watcher = RegistryWatcher()
    with pytest.raises(TypeError, match=r"obj must be a sized container .* got int"):
        watcher.watch(42)
    with pytest.raises(ValueError, match="max_growth must be >= 0, got -1"):
        watcher.watch([], max_growth=-1)
    with pytest.raises(TypeError, match="max_growth must be an int, got float"):
        watcher.watch([], max_growth=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="size of registry 'bad' must be an int, got str"):
        watcher.watch(lambda: "3", name="bad")
    assert watcher.watches == ()


# -- demo ----------------------------------------------------------------------------------------


def test_demo_section_catches_both_bugs_and_passes_both_fixes() -> None:
    from pytest_concurrency.demo import leaks_demo

    outcomes = leaks_demo.run()
    assert [(o.name, o.ok) for o in outcomes] == [
        ("thread started, never joined", True),
        ("fixed: stopped and joined", True),
        ("lock map keyed by request id", True),
        ("fixed: lock dropped by its last user", True),
    ]
    assert "leaked 1 thread, created at leaks_demo.py:" in outcomes[0].observed
    assert outcomes[2].observed == f"reported growth of {leaks_demo.REQUESTS}"
    assert not [t for t in threading.enumerate() if t.name == "demo-worker"]
