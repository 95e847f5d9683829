"""The failure pages in a real browser: headless Chromium draws the lanes, with no script error.

A pytest run writes the pages (--interleavings-report); Chromium loads each one
from disk, and the test reads the DOM the page's script built (one lane per
thread, each operation with the user's ``file:line``), the browser's console
(no message at all: the page logs nothing unless something breaks) and a
screenshot's PNG header. Without a chromium binary the tests skip.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed: apt-get install chromium"
)

_QUIET = ("-p", "no:randomly", "-p", "no:cacheprovider", "-q")
#: real seconds one headless page load may take (a cold start on a loaded machine)
BROWSER_TIMEOUT = 90

_TESTS = """
import threading
import pytest
from pytest_concurrency import checkpoint, spawn


@pytest.mark.interleavings(strategy="dfs")
def test_deadlock():
    a, b = threading.Lock(), threading.Lock()

    def one():
        with a:  # ONE-A
            with b:  # ONE-B
                pass

    def two():
        with b:  # TWO-B
            with a:  # TWO-A
                pass

    first, second = spawn(one), spawn(two)
    first.join()  # JOIN
    second.join()


@pytest.mark.interleavings(strategy="dfs")
def test_lost_update():
    box = {"n": 0}

    def add():
        value = box["n"]
        checkpoint("read")  # READ
        box["n"] = value + 1

    workers = [spawn(add) for _ in range(2)]
    for worker in workers:
        worker.join()
    assert box["n"] == 2
"""


def _line(marker: str) -> str:
    """``test_it.py:N`` of the line of ``_TESTS`` that carries ``# marker``."""
    for number, text in enumerate(_TESTS.splitlines(), start=1):
        if text.rstrip().endswith(f"# {marker}"):
            return f"test_it.py:{number}"
    raise AssertionError(marker)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two failure pages, written by a real pytest run."""
    root = tmp_path_factory.mktemp("pages")
    (root / "test_it.py").write_text(_TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *_QUIET, "--interleavings-report=out", "test_it.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    found = {path.stem.split("__")[-1]: path for path in (root / "out").glob("*.html")}
    assert sorted(found) == ["test_deadlock", "test_lost_update"], done.stdout
    return found


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT,
        check=False,
    )


class _Lanes(HTMLParser):
    """The rendered lanes: for each ``section.lane``, its boxes' (op, location) texts."""

    def __init__(self) -> None:
        super().__init__()
        self.lanes: dict[str, list[tuple[str, str]]] = {}
        self.rendered = False
        self.error = ""
        self.dom = ""
        self._lane: str | None = None
        self._depth = 0
        self._field: str | None = None
        self._box: dict[str, str] | None = None
        self._box_depth = 0
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if tag == "html" and values.get("data-rendered") == "ok":
            self.rendered = True
        if values.get("id") == "render-error":
            self._in_error = True
        if tag == "section" and "lane" in classes:
            self._lane = values.get("data-thread") or ""
            self.lanes[self._lane] = []
            self._depth = 0
        if self._lane is None:
            return
        if tag in ("section", "div", "span"):
            self._depth += 1
        if "box" in classes:
            self._box = {"op": "", "loc": ""}
            self._box_depth = self._depth
        elif self._box is not None and ("op" in classes or "loc" in classes):
            self._field = "op" if "op" in classes else "loc"

    def handle_endtag(self, tag: str) -> None:
        self._in_error = False
        self._field = None
        if self._lane is None or tag not in ("section", "div", "span"):
            return
        if self._box is not None and self._depth == self._box_depth:  # a box ended
            self.lanes[self._lane].append((self._box["op"], self._box["loc"]))
            self._box = None
        self._depth -= 1
        if self._depth == 0:
            self._lane = None

    def handle_data(self, data: str) -> None:
        if self._in_error:
            self.error += data
        if self._box is not None and self._field is not None:
            self._box[self._field] += data


def _rendered(page: Path, profile: Path) -> _Lanes:
    done = _chromium(profile, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console  # an uncaught error or a console.error would be logged here
    parsed = _Lanes()
    parsed.dom = done.stdout
    parsed.feed(done.stdout)
    assert not parsed.error, parsed.error
    assert parsed.rendered, done.stdout[-2000:]
    return parsed


def test_the_deadlock_page_draws_a_lane_per_thread_and_the_cycle(
    pages: dict[str, Path], tmp_path: Path
) -> None:
    parsed = _rendered(pages["test_deadlock"], tmp_path / "profile")
    assert list(parsed.lanes) == ["scenario", "T1 (one)", "T2 (two)"]
    one, two = parsed.lanes["T1 (one)"], parsed.lanes["T2 (two)"]
    assert ("acquire", _line("ONE-A")) in one and ("acquire", _line("ONE-B")) in one
    assert ("acquire", _line("TWO-B")) in two and ("acquire", _line("TWO-A")) in two
    # each thread's lane ends where it is stuck
    assert one[-1][0] == "blocks (acquire)" and two[-1][0] == "blocks (acquire)"
    assert ("join", _line("JOIN")) in parsed.lanes["scenario"]
    assert parsed.dom.count('class="edge in-cycle"') == 4  # T1 -> Lock -> T2 -> Lock -> T1


def test_the_lost_update_page_marks_the_preemption(pages: dict[str, Path], tmp_path: Path) -> None:
    parsed = _rendered(pages["test_lost_update"], tmp_path / "profile")
    assert list(parsed.lanes) == ["scenario", "T1 (add)", "T2 (add)"]
    for lane in ("T1 (add)", "T2 (add)"):
        assert ("checkpoint", _line("READ")) in parsed.lanes[lane]
    # T1 is switched away right before it reaches the checkpoint, T2 reads the same value
    assert re.search(r'<div class="box preempted" data-step="0" data-op="checkpoint"', parsed.dom)
    assert 'id="cycle-section" hidden' in parsed.dom  # no graph: no deadlock


def test_a_screenshot_of_the_page_has_the_window_size(
    pages: dict[str, Path], tmp_path: Path
) -> None:
    shot = tmp_path / "deadlock.png"
    done = _chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1200,800",
        pages["test_deadlock"].as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1200, 800)
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kilobytes


def test_a_script_error_would_be_caught(pages: dict[str, Path], tmp_path: Path) -> None:
    """The checks above can fail: a page whose script breaks is seen as broken."""
    broken = tmp_path / "broken.html"
    text = pages["test_deadlock"].read_text()
    assert "  buildCycle();" in text
    broken.write_text(text.replace("  buildCycle();", "  noSuchFunction();", 1))
    with pytest.raises(AssertionError, match="noSuchFunction"):
        _rendered(broken, tmp_path / "profile")
