"""The bench section runs and reports each shape's three figures (timings are not judged here)."""

from __future__ import annotations

import pytest

from pytest_concurrency import bench
from pytest_concurrency.bench import linearizability_bench


def test_the_section_reports_each_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "pytest_concurrency.bench.linearizability_bench" in bench.SECTIONS
    monkeypatch.setattr(linearizability_bench, "_SHAPES", ((2, 1),))
    monkeypatch.setattr(linearizability_bench, "_SCENARIOS", 5)
    rows = linearizability_bench.run(1)
    assert [row.name.split(":")[0] for row in rows] == ["2x1"] * 3
    checker = rows[2]
    assert checker.baseline is not None and 0 < checker.median <= checker.baseline
