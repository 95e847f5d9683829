"""The unrelated ``pytest-concurrency`` distribution is named at startup.

It ships the same import package and a ``pytest11`` entry point, so installing
it next to ours mixes the two projects' files. These tests fake its installed
metadata (a ``dist-info`` directory on ``PYTHONPATH``) in a subprocess run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PASSING = "def test_ok():\n    pass\n"


def _fake_dist_info(root: Path, entry_points: str) -> Path:
    """Write the metadata an installed ``pytest-concurrency`` leaves in site-packages."""
    dist_info = root / "pytest_concurrency-1.0.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: pytest-concurrency\nVersion: 1.0.0\n"
    )
    (dist_info / "entry_points.txt").write_text(entry_points)
    return root


def _run_with(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, site: Path) -> str:
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), pythonpath])))
    pytester.makepyfile(test_ok=PASSING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=1)
    return result.stdout.str()


def test_the_unrelated_distribution_is_named_in_header_and_warning(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no entry point in the fake: registering the other project's plugin is not under test
    site = _fake_dist_info(pytester.path / "site", "")
    output = _run_with(pytester, monkeypatch, site)
    header, _, summary = output.partition("test_ok.py")
    assert "pytest-concurrency-kit WARNING: the distribution 'pytest-concurrency' 1.0.0" in header
    assert "PytestConfigWarning: the distribution 'pytest-concurrency' 1.0.0" in summary
    assert "python -m pip uninstall -y pytest-concurrency pytest-concurrency-kit" in summary


def test_an_unrelated_pytest11_entry_point_is_reported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With its entry point present the run still starts and says why things may be odd."""
    site = _fake_dist_info(pytester.path / "site", "[pytest11]\nconcurrency = pytest_concurrency\n")
    output = _run_with(pytester, monkeypatch, site)
    assert "unrelated project that also ships the import package 'pytest_concurrency'" in output


def test_no_warning_without_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok=PASSING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "pytest-concurrency-kit WARNING" not in result.stdout.str()


def test_this_project_under_its_earlier_name_is_not_reported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale install of this project (its own entry point) is not the other project."""
    site = _fake_dist_info(
        pytester.path / "site", "[pytest11]\npytest_concurrency = pytest_concurrency.plugin\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    pytester.makepyfile(test_ok=PASSING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "pytest-concurrency-kit WARNING" not in result.stdout.str()
