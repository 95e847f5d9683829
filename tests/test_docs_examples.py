"""Every ```python block in README.md and docs/ runs, so a broken example fails CI.

How a block runs depends on what it is:

- a test module (it defines ``test_*`` functions or ``Test*`` classes) is run
  by pytest as a file of its own (named by the block's ``title="..."``, else
  ``test_example.py``), with the plugin loaded as a user would have it; it
  must pass, unless an ``<!-- outcome: failed=1 passed=1 -->`` comment just
  above the block says which of its tests fail (examples that show a failure);
- a block titled ``conftest.py`` is run as a conftest next to a passing test;
- anything else is a script, run by Python in a fresh process.

Other comments just above a block: ``<!-- continues -->`` runs the block after
the page's last example without that comment (an example built on, or varied,
further down the page), and ``<!-- not-run: reason -->`` skips it, for the rare block that
cannot run anywhere (used sparingly; the reason is required).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
_DIRECTIVE = re.compile(r"^<!--\s*([a-z-]+)\s*(?::\s*(.*?))?\s*-->$")
_TITLE = re.compile(r'title="([^"]+)"')
_TEST_MODULE = re.compile(r"^(?:async )?def test_|^class Test", re.M)
_OUTCOME = re.compile(r"(passed|failed|errors|skipped|xfailed|xpassed)=(\d+)")

#: at most this many blocks may be skipped: every other one must run
MAX_NOT_RUN = 3


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    title: str | None
    source: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def is_test_module(self) -> bool:
        return bool(_TEST_MODULE.search(self.source))


def _directives(before: str) -> dict[str, str]:
    """The ``<!-- name: value -->`` comments on the lines just above a fence."""
    found: dict[str, str] = {}
    for line in reversed(before.rstrip("\n").splitlines()):
        match = _DIRECTIVE.match(line.strip())
        if match is None:
            break
        found[match.group(1)] = match.group(2) or ""
    return found


def collect(page: Path) -> list[Example]:
    text = page.read_text(encoding="utf-8")
    examples: list[Example] = []
    base: Example | None = None
    for match in _FENCE.finditer(text):
        title = _TITLE.search(match.group(1))
        directives = _directives(text[: match.start()])
        source = match.group(2)
        if "continues" in directives:
            assert base is not None, f"{page}: a '<!-- continues -->' block needs one before it"
            source = base.source + "\n\n" + source
        example = Example(
            page=page,
            line=text.count("\n", 0, match.start()) + 1,
            title=title.group(1) if title else None,
            source=source,
            directives=directives,
        )
        if "continues" not in directives:
            base = example
        examples.append(example)
    return examples


EXAMPLES = [example for page in PAGES for example in collect(page)]


def _expected_outcome(example: Example) -> dict[str, int] | None:
    spec = example.directives.get("outcome")
    if spec is None:
        return None
    outcome = {name: int(count) for name, count in _OUTCOME.findall(spec)}
    assert outcome, f"{example.id}: unreadable outcome comment {spec!r}"
    return outcome


def _run_tests(pytester: pytest.Pytester, example: Example) -> None:
    if example.title == "conftest.py":
        pytester.makeconftest(example.source)
        pytester.makepyfile(test_uses_the_conftest="def test_plain():\n    pass\n")
    else:
        name = example.title if example.title and example.title.startswith("test_") else None
        pytester.makepyfile(**{Path(name or "test_example.py").stem: example.source})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=300)
    expected = _expected_outcome(example)
    if expected is None:
        outcomes = result.parseoutcomes()
        bad = {k: v for k, v in outcomes.items() if k in ("failed", "errors", "error")}
        assert not bad and outcomes.get("passed", 0) > 0, "\n".join(result.outlines[-60:])
    else:
        result.assert_outcomes(**expected)


def _run_script(tmp_path: Path, example: Example) -> None:
    script = tmp_path / "example.py"
    script.write_text(example.source, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_example_runs(example: Example, pytester: pytest.Pytester) -> None:
    if "not-run" in example.directives:
        assert example.directives["not-run"], f"{example.id}: not-run needs a reason"
        pytest.skip(f"not run: {example.directives['not-run']}")
    if example.is_test_module or example.title == "conftest.py":
        _run_tests(pytester, example)
    else:
        assert "outcome" not in example.directives, f"{example.id}: a script has no outcome"
        _run_script(pytester.path, example)


def test_examples_were_found_and_few_are_skipped() -> None:
    assert len(EXAMPLES) > 30
    skipped = [example.id for example in EXAMPLES if "not-run" in example.directives]
    assert len(skipped) <= MAX_NOT_RUN, skipped


def test_the_docs_speak_of_the_users_code_not_of_our_history() -> None:
    jargon = re.compile(r"seed 00[0-9]|\b00[0-4][ab]\b|the issue (names|asks)|issue [0-9]+", re.I)
    found = [
        f"{page.relative_to(ROOT)}:{number}: {line.strip()}"
        for page in PAGES
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if jargon.search(line)
    ]
    assert not found, "\n".join(found)
