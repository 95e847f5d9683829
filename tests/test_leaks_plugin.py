"""The leak detectors through pytest itself: marker, ``--leaks``, ini value, ``leaks`` fixture.

Runs that check threads or temp files patch ``Thread.start`` and
:mod:`tempfile` in the process running the tests, and the leaky tests leave
threads behind on purpose: those run in a subprocess. Runs that patch nothing
(usage errors, the registry fixture) run in-process.
"""

from __future__ import annotations

import tempfile
import threading

import pytest

#: hypothesis's plugin costs over a second per pytest start here and plays no part
NO_HYPOTHESIS = ("-p", "no:hypothesispytest")

LEAKY_AND_CLEAN = """
import threading
import pytest

stop = threading.Event()

def start_worker():
    worker = threading.Thread(target=stop.wait, args=(30,), name="forgotten", daemon=True)
    worker.start()
    return worker

@pytest.mark.no_leaks("threads", grace=0.01)
def test_leaky():
    start_worker()

@pytest.mark.no_leaks("threads")
def test_clean():
    done = threading.Event()
    worker = threading.Thread(target=done.wait, args=(30,))
    worker.start()
    done.set()
    worker.join(30)

@pytest.fixture
def background():
    finish = threading.Event()
    worker = threading.Thread(target=finish.wait, args=(30,))
    worker.start()
    yield worker
    finish.set()
    worker.join(30)

@pytest.mark.no_leaks
def test_fixture_thread_stopped_at_teardown_is_not_a_leak(background, tmp_path, capfd):
    (tmp_path / "data.txt").write_text("x")
    print("captured")
    assert background.is_alive()

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")

@pytest.mark.no_leaks("threads", grace=0.01)
def test_leaky_with_broken_teardown(broken_teardown):
    threading.Thread(target=stop.wait, args=(30,), name="also-forgotten", daemon=True).start()
"""

UNMARKED = """
import threading
import pytest

stop = threading.Event()

def test_leaks_a_thread():
    threading.Thread(target=stop.wait, args=(30,), name="unmarked", daemon=True).start()

def test_clean():
    pass

@pytest.mark.no_leaks("tempfiles", grace=0.01)
def test_marker_kinds_and_run_kinds_unite():
    threading.Thread(target=stop.wait, args=(30,), name="united", daemon=True).start()
"""


def line_of(source: str, text: str) -> int:
    """The line number of ``text`` in ``source`` once written by ``makepyfile`` (which strips)."""
    return source.strip().splitlines().index(text) + 1


def subprocess_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*NO_HYPOTHESIS, "-p", "no:cacheprovider", *args)


def in_process_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*NO_HYPOTHESIS, "-p", "no:cacheprovider", *args)


def test_a_leaking_test_is_one_failed_test_with_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_threads=LEAKY_AND_CLEAN)
    result = subprocess_run(pytester, "--strict-markers")
    # the broken fixture's own teardown error stays pytest's; the leaks fail the tests
    result.assert_outcomes(passed=2, failed=2, errors=1)
    start = line_of(LEAKY_AND_CLEAN, "    worker.start()")
    call = line_of(LEAKY_AND_CLEAN, "    start_worker()")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ test_leaky _*",
            "leaked 1 thread (checked: threads; grace 0.01 s)",
            "- thread 'forgotten' (daemon; target threading.Event.wait)",
            f"    created at test_threads.py:{start} in start_worker",
            "        worker.start()",
            "    creation stack, innermost first:",
            f"      test_threads.py:{start} in start_worker",
            f"      test_threads.py:{call} in test_leaky",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaky_with_broken_teardown*",
            "E * RuntimeError: teardown broke",
            "*_ test_leaky_with_broken_teardown _*",
            "leaked 1 thread (checked: threads; grace 0.01 s)",
            "- thread 'also-forgotten' *",
        ]
    )
    summary = result.stdout.str().split("short test summary")[1]
    result.stdout.fnmatch_lines(["FAILED test_threads.py::test_leaky - Failed: leaked 1 thread*"])
    assert "ERROR test_threads.py::test_leaky " not in summary
    assert "test_clean" not in summary


def test_leaks_option_checks_every_test_and_the_ini_value_mirrors_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_unmarked=UNMARKED)
    by_option = subprocess_run(pytester, "--leaks=threads")
    by_option.assert_outcomes(passed=1, failed=2)
    by_option.stdout.fnmatch_lines(
        [
            "*_ test_leaks_a_thread _*",
            "*'unmarked'*",
            "*_ test_marker_kinds_and_run_kinds_unite _*",
            "leaked 1 thread (checked: threads, tempfiles; grace 0.01 s)",
        ]
    )

    pytester.makeini("[pytest]\nconcurrency_leaks = threads\n")
    by_ini = subprocess_run(pytester)
    by_ini.assert_outcomes(passed=1, failed=2)
    by_ini.stdout.fnmatch_lines(["FAILED test_unmarked.py::test_leaks_a_thread - *leaked 1*"])

    overridden = subprocess_run(pytester, "--leaks=")  # the command line wins, even empty
    overridden.assert_outcomes(passed=3)


def test_unknown_kinds_are_usage_errors_listing_the_valid_kinds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = in_process_run(pytester, "--leaks=threads,bogus")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --leaks: unknown leak kind 'bogus'; valid kinds: "
            "threads, fds, processes, tasks, tempfiles (or 'all')"
        ]
    )

    pytester.makeini("[pytest]\nconcurrency_leaks = thread\n")
    result = in_process_run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: ini value concurrency_leaks: unknown leak kind 'thread'; valid kinds: *"]
    )


def test_a_bad_no_leaks_marker_errors_that_test_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_markers="""
        import pytest

        RAN = []

        @pytest.mark.no_leaks("bogus")
        def test_unknown_kind():
            RAN.append("unknown kind")

        @pytest.mark.no_leaks("threads", grase=1)
        def test_unknown_option():
            RAN.append("unknown option")

        def test_others_still_run():
            assert RAN == []
        """
    )
    result = in_process_run(pytester)
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_unknown_kind*",
            "@pytest.mark.no_leaks('bogus'): unknown leak kind 'bogus'; valid kinds: "
            "threads, fds, processes, tasks, tempfiles (or 'all')",
            "*ERROR at setup of test_unknown_option*",
            "@pytest.mark.no_leaks('threads', grase=1): "
            "unexpected keyword(s) grase; allowed: grace",
        ]
    )


def test_the_leaks_fixture_fails_a_test_whose_registry_grew(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_registries="""
        LOCKS = {}

        def test_lock_map_grows(leaks):
            leaks.watch(LOCKS, name="locks")
            for request_id in range(3):
                LOCKS.setdefault(request_id, object())

        def test_within_allowance_and_callable(leaks):
            cache = []
            leaks.watch(cache, max_growth=1)
            leaks.watch(lambda: len(cache) - 1, name="cache minus one")
            cache.append("entry")
            cache.pop()

        def test_bad_watch(leaks):
            leaks.watch(3)
        """
    )
    result = in_process_run(pytester)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_lock_map_grows _*",
            "leaked 1 registry (checked: registries)",
            "- registry 'locks' grew by 3 (before 0, after 3; max_growth 0)",
            "*TypeError: obj must be a sized container*got int",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED test_registries.py::test_lock_map_grows - *registry*"])


def test_unused_the_plugin_patches_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import tempfile
        import threading

        BEFORE_ANY_TEST = (threading.Thread.start, tempfile.mkdtemp, tempfile._mkstemp_inner)
        """
    )
    pytester.makepyfile(
        test_unused="""
        import tempfile
        import threading

        from conftest import BEFORE_ANY_TEST

        def test_nothing_is_wrapped():
            now = (threading.Thread.start, tempfile.mkdtemp, tempfile._mkstemp_inner)
            assert now == BEFORE_ANY_TEST
        """
    )
    in_process_run(pytester).assert_outcomes(passed=1)
    in_process_run(pytester, "--leaks=tempfiles").assert_outcomes(failed=1)  # the probe works


def test_an_interrupted_run_still_restores_every_patch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_stop="""
        import pytest

        def test_stop():
            pytest.exit("stopping the run mid-test")
        """
    )
    before = (threading.Thread.start, tempfile.mkdtemp, tempfile._mkstemp_inner)  # type: ignore[attr-defined]
    result = in_process_run(pytester, "--leaks=threads,tempfiles")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert (threading.Thread.start, tempfile.mkdtemp, tempfile._mkstemp_inner) == before  # type: ignore[attr-defined]


def test_harness_and_pytest_resources_are_not_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_harness="""
        import threading

        def test_pytest_timeout_thread_runs(tmp_path, tmp_path_factory, capfd, caplog):
            names = [thread.name for thread in threading.enumerate()]
            assert any(name.startswith("pytest_timeout ") for name in names), names
            (tmp_path / "a").write_text("a")
            tmp_path_factory.mktemp("more")
            print("captured")

        def test_second(tmp_path):
            (tmp_path / "b").mkdir()
        """
    )
    result = subprocess_run(
        pytester, "-p", "timeout", "--timeout=30", "--timeout-method=thread", "--leaks=all"
    )
    result.assert_outcomes(passed=2)


@pytest.mark.inner_plugins("xdist")
def test_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        test_spread="""
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_clean(n):
            assert n >= 0
        """,
        test_unmarked=UNMARKED,
    )
    result = subprocess_run(pytester, "-n", "2", "--leaks=threads")
    result.assert_outcomes(passed=5, failed=2)  # the rewritten reports survive serialisation
    result.stdout.fnmatch_lines(["*leaked 1 thread*", "*'unmarked'*"])
    result.stdout.fnmatch_lines(["FAILED test_unmarked.py::test_leaks_a_thread - *leaked 1*"])


LEAKY_ONLY = """
import threading
import pytest

stop = threading.Event()

@pytest.mark.no_leaks("threads", grace=0.01)
def test_leaky():
    threading.Thread(target=stop.wait, args=(30,), name="forgotten", daemon=True).start()

def test_after():
    pass
"""


def test_junit_xml_has_one_failed_testcase_with_the_leak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_junit=LEAKY_ONLY)
    result = subprocess_run(pytester, "--junitxml=report.xml")
    result.assert_outcomes(passed=1, failed=1)
    from xml.etree import ElementTree

    suite = ElementTree.parse(pytester.path / "report.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    (leaky,) = (case for case in suite.iter("testcase") if case.get("name") == "test_leaky")
    assert [child.tag for child in leaky] == ["failure"]
    failure = leaky.find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("Failed: leaked 1 thread (checked: threads")
    assert "- thread 'forgotten' (daemon; target threading.Event.wait)" in (failure.text or "")


def test_a_failing_leaky_test_keeps_its_failure_and_adds_the_leak(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_both="""
        import threading
        import pytest

        stop = threading.Event()

        @pytest.mark.no_leaks("threads", grace=0.01)
        def test_fails_and_leaks():
            threading.Thread(target=stop.wait, args=(30,), name="forgotten", daemon=True).start()
            assert 1 + 1 == 3, "the test's own failure"
        """
    )
    result = subprocess_run(pytester, "--junitxml=report.xml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: the test's own failure",
            "*- leaks (checked after teardown) -*",
            "leaked 1 thread (checked: threads; grace 0.01 s)",
            "- thread 'forgotten' *",
            "*short test summary*",
            "FAILED test_both.py::test_fails_and_leaks - AssertionError: the test's own fa*",
        ]
    )
    xml = (pytester.path / "report.xml").read_text()
    assert "AssertionError: the test&apos;s own failure" in xml or "own failure" in xml
    assert "leaks (checked after teardown)" in xml
    assert "- thread 'forgotten'" in xml


def test_exitfirst_stops_after_the_leak_and_last_failed_reruns_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_stop=LEAKY_ONLY)
    first = pytester.runpytest_subprocess("-x")
    first.assert_outcomes(failed=1)  # test_after never ran
    first.stdout.fnmatch_lines(["*stopping after 1 failures*"])
    rerun = pytester.runpytest_subprocess("--lf", "-v")
    rerun.assert_outcomes(failed=1)
    rerun.stdout.fnmatch_lines(["*run-last-failure: rerun previous 1 failure*"])
    assert "test_after" not in rerun.stdout.str()


def test_in_process_runs_report_one_failed_test_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_registry="""
        import pytest

        LOCKS = {}

        def test_grows(leaks):
            leaks.watch(LOCKS, name="locks")
            LOCKS["key"] = object()
        """
    )
    result = in_process_run(pytester)
    result.assert_outcomes(failed=1)
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    assert [(report.when, report.outcome) for report in reports] == [
        ("setup", "passed"),
        ("call", "failed"),
        ("teardown", "passed"),
    ]
    assert "registry 'locks' grew by 1" in reports[1].longreprtext


def test_a_test_another_plugin_reruns_keeps_that_plugins_protocol(
    pytester: pytest.Pytester,
) -> None:
    """A rerun plugin owns the protocol of the tests it reruns: the leak fails their teardown."""
    pytester.makeconftest(
        """
        import pytest
        from _pytest.runner import runtestprotocol

        SEEN = []

        class Rerunner:  # stands for pytest-rerunfailures: the flaky marker asks for reruns
            def pytest_runtest_protocol(self, item, nextitem):
                if item.get_closest_marker("flaky") is None:
                    return None
                SEEN.append(item.name)
                item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
                runtestprotocol(item, nextitem=nextitem)
                item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
                return True

        def pytest_configure(config):
            config.addinivalue_line("markers", "flaky: rerun me")
            config.pluginmanager.register(Rerunner(), "rerunfailures")

        def pytest_sessionfinish(session):
            print("RERUNNER SAW", *SEEN, "END")
        """
    )
    pytester.makepyfile(
        test_rerun="""
        import threading
        import pytest

        stop = threading.Event()

        @pytest.mark.flaky
        @pytest.mark.no_leaks("threads", grace=0.01)
        def test_rerun_and_leaky():
            threading.Thread(target=stop.wait, args=(30,), name="rerun", daemon=True).start()

        @pytest.mark.no_leaks("threads", grace=0.01)
        def test_leaky():
            threading.Thread(target=stop.wait, args=(30,), name="plain", daemon=True).start()
        """
    )
    result = subprocess_run(pytester, "-s")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*RERUNNER SAW test_rerun_and_leaky END"])
    result.stdout.fnmatch_lines(["ERROR test_rerun.py::test_rerun_and_leaky - *leaked 1 thread*"])
    result.stdout.fnmatch_lines(["FAILED test_rerun.py::test_leaky - *leaked 1 thread*"])


def test_unchecked_tests_keep_pytests_protocol(pytester: pytest.Pytester) -> None:
    """Only tests that may be checked run under the plugin's protocol; the others reach the rest."""
    pytester.makeconftest(
        """
        SEEN = []

        class Observer:  # a plain protocol implementation that declines every test
            def pytest_runtest_protocol(self, item, nextitem):
                SEEN.append(item.name)

        def pytest_configure(config):
            config.pluginmanager.register(Observer(), "observer")

        def pytest_sessionfinish(session):
            print("OBSERVER SAW", *sorted(SEEN), "END")
        """
    )
    pytester.makepyfile(
        test_mixed="""
        import pytest

        def test_plain():
            pass

        @pytest.mark.no_leaks("threads")
        def test_marked():
            pass

        def test_registry(leaks):
            pass

        def test_gates(gated_fake):
            pass
        """
    )
    result = subprocess_run(pytester, "-s")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*OBSERVER SAW test_plain END"])
