"""The examples in docs/guide/reference-guards.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).parents[2] / "docs" / "guide" / "reference-guards.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_the_guide_has_one_example_per_guard_section() -> None:
    assert len(EXAMPLES) == 6


@pytest.mark.parametrize("source", EXAMPLES, ids=[f"example-{n}" for n in range(len(EXAMPLES))])
def test_guide_example_runs(source: str) -> None:
    exec(compile(source, str(GUIDE), "exec"), {"__name__": "guide_example"})
