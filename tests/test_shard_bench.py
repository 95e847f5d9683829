"""The sharding benchmark's machinery, on an exploration small enough for the suite.

The figures themselves come from ``python -m pytest_concurrency bench --only shard``;
here the same code runs a tiny split to show that it measures what it says.
"""

from __future__ import annotations

import pytest

from pytest_concurrency import bench
from pytest_concurrency.bench import shard_bench


def test_the_section_is_registered() -> None:
    assert "pytest_concurrency.bench.shard_bench" in bench.SECTIONS


def test_a_small_split_is_timed_and_its_counts_add_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shard_bench, "_TEST", shard_bench._TEST.replace("3, 8", "2, 1"))
    speed, unsplit, counts = shard_bench.run(1)
    assert speed.unit == "s" and speed.baseline is not None and speed.median > 0
    assert unsplit.median == speed.baseline
    assert not unsplit.met  # far below 20 s: the figure says the goal does not apply
    assert counts.met, counts  # dfs: the shards' schedules add up to the unsplit count
    assert counts.baseline is not None and counts.baseline > 10
