"""The guide's conftest hook works with the plugin on and with it off.

The hook is declared by the plugin; a conftest that implements it must mark it
``optionalhook=True`` or pytest rejects it as unknown when the plugin is not
loaded. The conftest is the one the command-line guide shows, read from the
guide, so the test follows the documentation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide" / "command-line.md"

RACY = """
import threading


def test_racy(interleavings):
    def scenario():
        box = {"n": 0}

        def add():
            value = box["n"]
            threading.Lock().acquire()  # a scheduling point between the read and the write
            box["n"] = value + 1

        threads = [threading.Thread(target=add) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert box["n"] == 2

    interleavings.explore(scenario, strategy="dfs")
"""


def _guide_conftest() -> str:
    blocks = re.findall(r'```python title="conftest.py"\n(.*?)```', GUIDE.read_text(), re.S)
    hooks = [block for block in blocks if "def pytest_concurrency_interleaving_failure" in block]
    assert len(hooks) == 1, "the guide shows one conftest implementing the failure hook"
    return hooks[0]


def test_the_guides_conftest_runs_with_the_plugin_disabled(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(_guide_conftest())
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:concurrency")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)


def test_the_guides_conftest_is_called_with_the_plugin_on(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(_guide_conftest())
    pytester.makepyfile(test_racy=RACY)
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(failed=1)
    expected = "*::error title=race in test_racy.py::test_racy::replay token pc1.*"
    result.stdout.fnmatch_lines([expected])
