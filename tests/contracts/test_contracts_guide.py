"""docs/guide/contracts.md: its worked example passes, and it lists every property."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_concurrency import contracts

GUIDE = Path(__file__).parents[2] / "docs" / "guide" / "contracts.md"
TEXT = GUIDE.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
CONTRACTS = [
    getattr(contracts, name)
    for name in contracts.__all__
    if name.endswith("Contract") and name != "Contract"
]


def test_the_worked_example_and_its_extra_property_pass(pytester: pytest.Pytester) -> None:
    (example,) = [source for source in EXAMPLES if "class VocabCache" in source]
    (extra,) = [source for source in EXAMPLES if "class TestVocabCacheMore" in source]
    pytester.makepyfile(test_vocab_cache=example + "\n" + extra)
    result = pytester.runpytest_subprocess("-v", "-p", "no:hypothesispytest")
    properties = len(contracts.BuildOnceCacheContract.properties())
    result.assert_outcomes(passed=2 * properties + 1)  # TestVocabCacheMore inherits them all
    result.stdout.fnmatch_lines(["*TestVocabCacheMore::test_two_keys_and_an_invalidation PASSED*"])


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
def test_the_guide_lists_every_property(contract: type[contracts.Contract]) -> None:
    section = TEXT.split(f"### `{contract.__name__}`")[1].split("\n### ")[0]
    missing = [name for name in contract.properties() if f"`{name}`" not in section]
    assert not missing, f"{contract.__name__} properties missing from {GUIDE.name}: {missing}"
