"""How pytest finds the plugin: entry point, ``-p``, conftest, and ``-p no:``.

These run pytest in subprocesses, because registration is decided once per
process, before any test runs.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.inner_plugins(autoload=True)  # these test the entry point itself

PROBE = """
import pytest

pytestmark = pytest.mark.inner_plugins(autoload=True)  # these test the entry point itself

def test_probe(request):
    manager = request.config.pluginmanager
    import pytest_concurrency.plugin as plugin_module
    registered = [p for p in manager.get_plugins() if p is plugin_module]
    print("PLUGIN_REGISTRATIONS=%d" % len(registered))
"""


def _registrations(result: pytest.RunResult) -> int:
    for line in result.outlines:
        if "PLUGIN_REGISTRATIONS=" in line:
            return int(line.split("PLUGIN_REGISTRATIONS=")[1].split()[0])
    raise AssertionError("probe did not report:\n" + "\n".join(result.outlines))


@pytest.fixture
def probe(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_probe=PROBE)
    return pytester


def test_entry_point_registers_the_plugin_once(probe: pytest.Pytester) -> None:
    result = probe.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    assert _registrations(result) == 1


def test_dash_p_with_autoload_does_not_register_twice(probe: pytest.Pytester) -> None:
    result = probe.runpytest_subprocess("-s", "-p", "pytest_concurrency")
    result.assert_outcomes(passed=1)
    assert _registrations(result) == 1


def test_dash_p_without_autoload(probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = probe.runpytest_subprocess("-s", "-p", "pytest_concurrency")
    result.assert_outcomes(passed=1)
    assert _registrations(result) == 1


def test_without_autoload_and_without_dash_p_the_plugin_is_absent(
    probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = probe.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    assert _registrations(result) == 0


@pytest.mark.parametrize("autoload", [True, False])
def test_conftest_pytest_plugins_spelling(
    probe: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, autoload: bool
) -> None:
    if not autoload:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    probe.makeconftest('pytest_plugins = ["pytest_concurrency"]\n')
    result = probe.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    assert _registrations(result) == 1


def test_no_concurrency_disables_it(probe: pytest.Pytester) -> None:
    result = probe.runpytest_subprocess("-s", "-p", "no:concurrency")
    result.assert_outcomes(passed=1)
    assert _registrations(result) == 0


def test_markers_are_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.no_leaks("threads")
        def test_marked():
            pass
        """
    )
    assert pytester.runpytest_subprocess("--strict-markers").ret == 0
    disabled = pytester.runpytest_subprocess("--strict-markers", "-p", "no:concurrency")
    assert disabled.ret != 0
    disabled.stdout.fnmatch_lines(["*'no_leaks' not found in `markers` configuration option*"])


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        ["*pytest-concurrency*", "*--leaks=KINDS*", "*--interleavings-replay=TOKEN*"]
    )


HEAVY_MODULES = (
    "pytest_concurrency.fake_clock",
    "pytest_concurrency.fakes",
    "pytest_concurrency.leaks",
    "pytest_concurrency.world",
    "freezegun",
    "asyncio",
    "concurrent.futures",
)


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    """The plugin is imported in every pytest run: the features load on first use."""
    code = (
        "import sys, pytest\n"
        "before = set(sys.modules)\n"
        "import pytest_concurrency.plugin\n"
        "for name in pytest_concurrency.plugin._WIRING_MODULES:\n"
        "    __import__(name)\n"
        "new = set(sys.modules) - before\n"
        f"heavy = sorted(n for n in new if n.startswith({HEAVY_MODULES!r}))\n"
        "print(heavy)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_doctests_of_the_package_collect_with_the_plugin_loaded() -> None:
    """Collecting the package's own modules must not register the plugin a second time."""
    import pytest_concurrency.fakes as fakes_package

    completed = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "--doctest-modules"),
            *("-p", "no:cacheprovider", "-p", "no:hypothesispytest", fakes_package.__path__[0]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "passed" in completed.stdout


def test_every_public_name_resolves() -> None:
    import pytest_concurrency

    for name in pytest_concurrency.__all__:
        assert getattr(pytest_concurrency, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = pytest_concurrency.nonexistent
