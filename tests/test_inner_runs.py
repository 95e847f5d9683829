"""The suite's own pytester runs load pytest_concurrency and only the plugins a test names.

Checked with plugins installed next to the suite (pytest-xdist, pytest-timeout,
pytest-randomly in the dev extra): an inner run that loaded them would have
its outcome depend on the machine.
"""

from __future__ import annotations

import pytest

PROBE = """
import pytest

@pytest.mark.parametrize("name", ["pytest_concurrency", "xdist", "timeout", "randomly"])
def test_probe(request, name):
    print(f"LOADED {name}={request.config.pluginmanager.has_plugin(name)}")
"""


def _loaded(result: pytest.RunResult) -> dict[str, bool]:
    pairs = (line.split("LOADED ")[1].split("=") for line in result.outlines if "LOADED " in line)
    return {name: value == "True" for name, value in pairs}


@pytest.mark.parametrize("run", ["runpytest", "runpytest_subprocess"])
def test_an_inner_run_loads_only_the_plugin(pytester: pytest.Pytester, run: str) -> None:
    pytester.makepyfile(test_probe=PROBE)
    result = getattr(pytester, run)("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    assert _loaded(result) == {
        "pytest_concurrency": True,
        "xdist": False,
        "timeout": False,
        "randomly": False,
    }


@pytest.mark.inner_plugins("timeout")
def test_an_inner_run_also_loads_the_plugins_a_test_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    assert _loaded(result)["timeout"] is True
    assert _loaded(result)["randomly"] is False
