"""The demo and bench runners: tables, verdicts, exit codes, argument checks."""

from __future__ import annotations

import io
import sys
import types

import pytest

from pytest_concurrency import bench, demo


@pytest.fixture
def fake_section(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("pc_fake_section")
    module.TITLE = "Fake section"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pc_fake_section", module)
    return module


def test_demo_exit_status_reflects_unexpected_outcomes(
    fake_section: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "SECTIONS", ("pc_fake_section",))
    fake_section.run = lambda: [  # type: ignore[attr-defined]
        demo.Outcome("good", "1 call", "1 call", ok=True, seconds=0.001),
        demo.Outcome("bad", "1 call", "4 calls", ok=False, detail="trace line"),
    ]
    out = io.StringIO()
    assert demo.run(out) == 1
    text = out.getvalue()
    assert "== Fake section ==" in text
    assert "UNEXPECTED" in text and "trace line" in text
    assert "1 demonstration(s) did not behave as expected" in text

    fake_section.run = lambda: [demo.Outcome("good", "x", "x", ok=True)]  # type: ignore[attr-defined]
    out = io.StringIO()
    assert demo.run(out) == 0
    assert "all demonstrations behaved as expected" in out.getvalue()


def test_bench_prints_ratio_and_goal(
    fake_section: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "SECTIONS", ("pc_fake_section",))
    fake_section.run = lambda repeats: [  # type: ignore[attr-defined]
        bench.Measurement("handoff", 3.0, "us", baseline=2.0, goal="<= 1.5x", met=True),
        bench.Measurement("no baseline", 1.0, "ms"),
    ]
    out = io.StringIO()
    assert bench.run(repeats=1, out=out) == 0
    text = out.getvalue()
    assert "handoff: median 3 us vs baseline 2 us (ratio 1.500); goal <= 1.5x -- met" in text
    assert "no baseline: median 1 ms\n" in text


def test_bench_only_filters_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "SECTIONS", ("pc_not_importable_section",))
    out = io.StringIO()
    assert bench.run(repeats=1, out=out, only="something-else") == 0
    assert out.getvalue() == ""


def test_measurement_ratio_without_usable_baseline() -> None:
    assert bench.Measurement("x", 1.0, "s").ratio is None
    assert bench.Measurement("x", 1.0, "s", baseline=0.0).ratio is None
    assert bench.Measurement("x", 3.0, "s", baseline=1.5).ratio == 2.0


def test_median_and_repeat_validate_their_arguments() -> None:
    with pytest.raises(ValueError, match="samples must not be empty"):
        bench.median_of([])
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        bench.repeat(lambda: 1.0, 0)
    assert bench.median_of(bench.repeat(iter([3.0, 1.0, 2.0]).__next__, 3)) == 2.0
