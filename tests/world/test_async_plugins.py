"""``@pytest.mark.interleavings`` on ``async def`` tests run by pytest-asyncio or anyio.

Every cell either explores the body on the controlled loop (a race only a
non-FIFO schedule shows is found, its fixed twin passes after many schedules)
or is refused at setup with what to do. The racy body passes on a real event
loop, so a test body run once by the plugin would pass: the cells tell
exploring from running once.

Each inner run loads only the plugins it names (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).
"""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

pytest.importorskip("pytest_asyncio")
pytest.importorskip("anyio")

#: {mark}: the async plugin's marker line (empty in auto mode)
_BODIES = """
import asyncio
import pytest

RUNS = {{"racy": 0, "fixed": 0}}

@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.interleavings(strategy="dfs")
{mark}
async def test_racy():
    RUNS["racy"] += 1
    box = {{}}
    async def producer():
        await asyncio.sleep(0)
        box["value"] = 1
    async def consumer():  # on a FIFO loop the producer always wins by one step
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert box.get("value") == 1, box
    await asyncio.gather(producer(), consumer())

@pytest.mark.interleavings(strategy="dfs")
{mark}
async def test_fixed():
    RUNS["fixed"] += 1
    box = {{}}
    ready = asyncio.Event()
    async def producer():
        await asyncio.sleep(0)
        box["value"] = 1
        ready.set()
    async def consumer():
        await ready.wait()
        assert box.get("value") == 1, box
    await asyncio.gather(producer(), consumer())

def test_schedules_ran():
    print("SCHEDULES", RUNS["racy"], RUNS["fixed"])
"""

_CELLS = {
    "pytest-asyncio strict": (["-p", "asyncio", "--asyncio-mode=strict"], "@pytest.mark.asyncio"),
    "pytest-asyncio auto": (["-p", "asyncio", "--asyncio-mode=auto"], ""),
    "anyio": (["-p", "anyio"], "@pytest.mark.anyio"),
    "anyio auto": (["-p", "anyio", "--anyio-mode=auto"], ""),
    "both plugins": (["-p", "asyncio", "-p", "anyio"], "@pytest.mark.asyncio"),
}


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs load the plugins their command line names, and nothing else."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "pytest_concurrency", "-s", *args)


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize("cell", list(_CELLS))
def test_an_async_plugin_test_is_explored_not_run_once(
    pytester: pytest.Pytester, cell: str
) -> None:
    args, mark = _CELLS[cell]
    pytester.makepyfile(test_async=_BODIES.format(mark=mark))
    result = _run(pytester, *args, "--junitxml=report.xml")
    result.assert_outcomes(failed=1, passed=2)
    output = result.stdout.str()
    assert "FAILED test_async.py::test_racy" in output
    assert "InterleavingFailure" in output
    assert re.search(r"pytest test_async.py::test_racy --interleavings-replay=pc1\.\S+", output)
    racy, fixed = map(int, re.findall(r"SCHEDULES (\d+) (\d+)", output)[0])
    assert racy > 2, output  # found after several schedules plus its traced replay
    assert fixed > 1, output  # the twin ran once per schedule, all of them passing
    # and its pass says how many schedules it covered
    report = (pytester.path / "report.xml").read_text()
    assert f'<property name="interleavings_schedules_run" value="{fixed}"' in report, report


@pytest.mark.usefixtures("isolated")
def test_the_replay_command_of_an_async_plugin_test_replays_its_schedule(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_async=_BODIES.format(mark="@pytest.mark.asyncio"))
    first = _run(pytester, "-p", "asyncio", "test_async.py::test_racy")
    first.assert_outcomes(failed=1)
    token = re.findall(r"--interleavings-replay=(pc1\.[A-Za-z0-9_-]+)", first.stdout.str())[0]
    again = _run(
        pytester, "-p", "asyncio", "test_async.py::test_racy", f"--interleavings-replay={token}"
    )
    again.assert_outcomes(failed=1)
    assert "replayed from its token" in again.stdout.str()


_ASYNC_FIXTURES = """
import asyncio
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.fixture
async def queue():
    return asyncio.Queue()

@pytest.fixture
def wrapper(queue):
    return [queue]

@pytest.mark.interleavings
{mark}
async def test_uses_an_async_fixture(wrapper):
    await wrapper[0].put(1)
"""


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize(
    ("args", "mark", "host"),
    [
        (["-p", "asyncio", "--asyncio-mode=auto"], "", "pytest-asyncio"),
        (["-p", "anyio"], "@pytest.mark.anyio", "anyio"),
    ],
)
def test_an_async_fixture_is_refused_at_setup(
    pytester: pytest.Pytester, args: list[str], mark: str, host: str
) -> None:
    pytester.makepyfile(test_fixture=_ASYNC_FIXTURES.format(mark=mark))
    result = _run(pytester, *args)
    result.assert_outcomes(errors=1)
    output = " ".join(result.stdout.str().split())
    assert "test_fixture.py::test_uses_an_async_fixture: @pytest.mark.interleavings" in output
    assert f"async fixture(s) queue run on {host}'s event loop" in output
    assert "Build that state inside the test body" in output


_TRIO = """
import asyncio
import pytest

BODY_RAN = []

@pytest.fixture(params=["trio", ("asyncio", {"use_uvloop": True}), "asyncio"])
def anyio_backend(request):
    return request.param

@pytest.mark.interleavings(strategy="dfs")
@pytest.mark.anyio
async def test_backend():
    BODY_RAN.append(1)
    await asyncio.sleep(0)

def test_only_asyncio_ran():
    assert len(BODY_RAN) == 1, BODY_RAN  # one schedule, for the plain asyncio backend
"""


@pytest.mark.usefixtures("isolated")
def test_anyio_backends_other_than_plain_asyncio_are_refused_at_setup(
    pytester: pytest.Pytester,
) -> None:
    # the refusal comes before anyio needs trio: no trio install needed to test it
    pytester.makepyfile(test_trio=_TRIO)
    result = _run(pytester, "-p", "anyio")
    result.assert_outcomes(passed=2, errors=2)
    output = " ".join(result.stdout.str().split())
    assert "test_trio.py::test_backend[trio]: @pytest.mark.interleavings" in output
    assert "the anyio backend 'trio' cannot be explored" in output
    assert "anyio backend options {'use_uvloop': True} cannot be explored" in output
    assert 'an anyio_backend fixture returning "asyncio"' in output
