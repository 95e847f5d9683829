"""pytest wiring for the interleaving explorer: ``interleavings`` fixture, marker, options.

Thin on purpose: it resolves defaults (``--interleavings-runs`` /
``--interleavings-seed``, else their ini mirrors, else the library's), swaps
exploring for replaying when ``--interleavings-replay=TOKEN`` is given, formats
the replay command with the test's node id, and calls the
``pytest_concurrency_interleaving_failure`` hook before a failure propagates.
``--interleavings-shards=N`` (ini ``interleavings_shards``) parametrizes every
exploring test with a hidden fixture, one item per shard of its exploration
(see :mod:`pytest_concurrency.world.shards`), for pytest-xdist to spread.
Exploring, replaying and reporting are :mod:`pytest_concurrency.world.api`'s job,
imported only when a test uses them.
"""

from __future__ import annotations

import dataclasses
import functools
import shlex
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pytest_concurrency.errors import ConcurrencyWarning

if TYPE_CHECKING:
    from pytest_concurrency.world.api import ExploreResult
    from pytest_concurrency.world.patching import PatchPlan

_MARKER = "interleavings"
#: the hidden fixture whose parameter is an item's shard, ``(index, count)``
SHARD_FIXTURE = "_interleavings_shard"
#: function-scoped fixtures that are harmless to share between the schedules of one test
_SHAREABLE_FIXTURES = frozenset(
    {
        "interleavings",
        "request",
        "monkeypatch",
        "capsys",
        "capsysbinary",
        "capfd",
        "capfdbinary",
        "record_property",
        "record_xml_attribute",
        SHARD_FIXTURE,
    }
)


class InterleavingsFixtureWarning(ConcurrencyWarning, pytest.PytestWarning):
    """An ``@pytest.mark.interleavings`` test uses a function-scoped fixture.

    The test body runs once per schedule but its fixtures are set up once, so a
    function-scoped fixture's value (a dict, a temporary directory, a fake) is
    shared by every schedule: state left by one schedule leaks into the next.
    Build such state inside the test body instead, or silence this warning with
    ``filterwarnings`` once the sharing is known to be harmless.
    """


@dataclass(frozen=True)
class _Defaults:
    runs: int | None
    seed: int | None
    replay: str | None
    #: the parts each exploring test is split in (1: not split)
    shards: int = 1


_DEFAULTS = pytest.StashKey[_Defaults]()
#: an async test body, kept before an async plugin swaps it for its own loop's runner
_BODY = pytest.StashKey[Any]()
#: True while the marker explores the test body (its fixture must not explore too)
_MARKED_RUN = pytest.StashKey[bool]()
#: the message of a marker-plus-fixture exploration, once one was attempted
_MISUSE = pytest.StashKey[str]()


def _int_setting(config: pytest.Config, name: str, *, minimum: int | None) -> int | None:
    """The option ``--name`` as an int, else its ini mirror, else None; UsageError if bad."""
    flag = "--" + name.replace("_", "-")
    value = config.getoption(name)
    source = flag
    if value is None:
        raw = str(config.getini(name) or "").strip()
        if not raw:
            return None
        source = f"ini option {name}"
        try:
            value = int(raw)
        except ValueError:
            raise pytest.UsageError(f"{source} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise pytest.UsageError(f"{source} must be >= {minimum}, got {value}")
    return int(value)


def pytest_configure(config: pytest.Config) -> None:
    """Validate the interleavings options once, before any test runs."""
    runs = _int_setting(config, "interleavings_runs", minimum=1)
    seed = _int_setting(config, "interleavings_seed", minimum=0)
    shards = _int_setting(config, "interleavings_shards", minimum=1) or 1
    replay = config.getoption("interleavings_replay")
    if replay is not None:
        from pytest_concurrency.world.token import ReplayTokenError, decode

        try:
            decode(replay)
        except ReplayTokenError as error:
            raise pytest.UsageError(f"--interleavings-replay: {error}") from None
        shards = 1  # a replay runs its one schedule once: the test is not split
    config.stash[_DEFAULTS] = _Defaults(runs, seed, replay, shards)


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """With ``--interleavings-shards=N``: one item per shard of every exploring test.

    Last of the parametrizations, so the shard ends the item's id
    (``test_x[1-shard-0-of-2]``) and a replay command can drop it.
    """
    count = metafunc.config.stash[_DEFAULTS].shards
    if count == 1:
        return
    marked = metafunc.definition.get_closest_marker(_MARKER) is not None
    if not marked and "interleavings" not in metafunc.fixturenames:
        return
    from pytest_concurrency.world.shards import shard_id

    if SHARD_FIXTURE not in metafunc.fixturenames:
        metafunc.fixturenames.append(SHARD_FIXTURE)
    metafunc.parametrize(
        SHARD_FIXTURE,
        [(index, count) for index in range(count)],
        indirect=True,
        ids=[shard_id(index, count) for index in range(count)],
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With shards: every test's first shard first, then every second one, and so on.

    pytest-xdist's default scheduling hands each worker a run of consecutive
    items: kept next to each other, the shards of one test would often run one
    after the other on one worker. The sort is stable: the order within each
    group is the one collection (or a reordering plugin) gave.
    """
    if config.stash[_DEFAULTS].shards > 1:
        items.sort(key=lambda item: (item_shard(item) or (0, 1))[0])


@pytest.fixture
def _interleavings_shard(request: pytest.FixtureRequest) -> tuple[int, int] | None:
    """The shard of this item's explorations, ``(index, count)``; None when not split."""
    shard: tuple[int, int] | None = getattr(request, "param", None)
    return shard


def item_shard(item: pytest.Item) -> tuple[int, int] | None:
    """The shard an item explores (see :func:`pytest_generate_tests`), None when not split."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    shard: tuple[int, int] | None = params.get(SHARD_FIXTURE)
    return shard


class Interleavings:
    """What the ``interleavings`` fixture gives a test: explore, replay, patch.

    Like :func:`pytest_concurrency.explore` and :func:`~pytest_concurrency.replay`,
    with ``runs`` and ``seed`` defaulting to the command line (then ini) values
    when the call does not give them, failures reported to the
    ``pytest_concurrency_interleaving_failure`` hook, and a replay command that
    names this test. With ``--interleavings-replay=TOKEN``, an ``explore`` call
    whose scenario recorded that token replays it instead of exploring.
    """

    def __init__(self, item: pytest.Item, *, marker: bool = False) -> None:
        self._item = item
        #: the runner of an ``@pytest.mark.interleavings`` body (not the fixture)
        self._marker = marker
        self._defaults = item.config.stash[_DEFAULTS]
        self._shard = item_shard(item)
        self._plans: list[PatchPlan] = []
        self._explored = False
        self._replayed = False

    def __repr__(self) -> str:
        return f"<interleavings fixture of {self._item.nodeid}>"

    def patch(self, target: Any) -> None:
        """Swap ``target``'s pre-existing locks, conditions, events, ... for controlled ones.

        Outside a run: for every later ``explore``/``replay`` call of this test.
        Inside a run (in an ``@pytest.mark.interleavings`` test body): for this run.
        """
        from pytest_concurrency.world.api import patch_current_run
        from pytest_concurrency.world.patching import PatchPlan

        if not patch_current_run(target):
            self._plans.append(PatchPlan(target))

    def explore(self, scenario: Callable[[], object], **options: Any) -> ExploreResult:
        """Explore ``scenario`` (options as :func:`pytest_concurrency.explore`)."""
        __tracebackhide__ = True  # pytest shows the user's frames, not ours
        from pytest_concurrency.world import api

        self._not_inside_the_marker("explore")
        defaults = self._defaults
        options = api.with_session_defaults(options, runs=defaults.runs, seed=defaults.seed)
        if self._shard is not None:
            if options.get("shard") is not None:
                pytest.fail(
                    f"{self._item.nodeid}: explore(shard={options['shard']!r}) in a test that "
                    f"--interleavings-shards splits already: remove shard=, or run without "
                    "--interleavings-shards",
                    pytrace=False,
                )
            options["shard"] = self._shard
        explore_options = self._options(options)
        self._explored = True
        token = self._defaults.replay
        if token is not None and api.token_matches(scenario, token):
            self._replayed = True
            started = _now()
            self._reported(
                functools.partial(
                    api.run_replay, scenario, token, explore_options, command=self._command
                )
            )
            return api.ExploreResult(
                "replay",
                None,
                1,
                1,
                False,
                _now() - started,
                granularity=explore_options.granularity,
            )
        result: ExploreResult = self._reported(
            functools.partial(api.run_exploration, scenario, explore_options, command=self._command)
        )
        return result

    def replay(self, scenario: Callable[[], object], token: str, **options: Any) -> None:
        """Re-run exactly the schedule of ``token``."""
        __tracebackhide__ = True  # pytest shows the user's frames, not ours
        from pytest_concurrency.world import api

        self._not_inside_the_marker("replay")
        api.check_replay_options(options)
        options = api.with_token_settings(options, token)
        self._reported(
            functools.partial(
                api.run_replay, scenario, token, self._options(options), command=self._command
            )
        )

    def _options(self, options: dict[str, Any]) -> Any:
        from pytest_concurrency.world.api import ExploreOptions

        extra = options.pop("patch", ())
        targets = list(extra) if isinstance(extra, (list, tuple)) else [extra]
        created = ExploreOptions.create(**options, patch=targets)
        return dataclasses.replace(created, patch=tuple(self._plans) + created.patch)

    def _not_inside_the_marker(self, call: str) -> None:
        """Inside an ``@pytest.mark.interleavings`` body: remember the misuse, refuse the call."""
        if not self._marker and self._item.stash.get(_MARKED_RUN, False):
            self._item.stash[_MISUSE] = (
                f"{self._item.nodeid}: use @pytest.mark.{_MARKER} or interleavings.{call}(), "
                f"not both: the marker already runs the test body once per schedule, and an "
                f"exploration cannot run inside one of its schedules. Drop the marker to "
                f"{call} a scenario with the fixture, or call the scenario directly in the "
                "marked body."
            )
            raise RuntimeError(self._item.stash[_MISUSE])

    def _command(self, token: str) -> str:
        from pytest_concurrency.world.shards import check_shard, unsharded_nodeid

        # a replay runs the one schedule unsplit: the test's id without its shard
        nodeid = unsharded_nodeid(self._item.nodeid, check_shard(self._shard))
        return " ".join(
            [
                "pytest",
                shlex.quote(nodeid),
                *map(shlex.quote, _selecting_options(self._item)),
                f"--interleavings-replay={token}",
            ]
        )

    def _reported(self, call: Callable[[], Any]) -> Any:
        __tracebackhide__ = True  # pytest shows the user's frames, not ours
        from pytest_concurrency.world.report import InterleavingFailure

        try:
            return call()
        except InterleavingFailure as failure:
            _refuse_misuse(self._item)
            # on the test's report too (JUnit XML <property>), for CI gates that read reports
            self._item.user_properties.append(("interleavings_replay_token", failure.token))
            self._item.config.hook.pytest_concurrency_interleaving_failure(
                item=self._item, failure=failure
            )
            raise

    def finish(self) -> None:
        """After the test: a replay token that no exploration of it recorded is an error."""
        token = self._defaults.replay
        if token is not None and self._explored and not self._replayed:
            from pytest_concurrency.world.token import ReplayTokenError

            raise ReplayTokenError(
                f"--interleavings-replay: the token was not recorded by any exploration of "
                f"{self._item.nodeid} (it belongs to another test or scenario)"
            )


def _now() -> float:
    from pytest_concurrency import _realtime

    return _realtime.perf_counter()


@pytest.fixture
def interleavings(
    request: pytest.FixtureRequest, _interleavings_shard: tuple[int, int] | None
) -> Iterator[Interleavings]:
    """Explore thread interleavings of a scenario; see :class:`Interleavings`.

    With ``--interleavings-shards=N`` it explores the item's shard (the hidden
    fixture it depends on is parametrized per shard).
    """
    runner = Interleavings(request.node)
    yield runner
    runner.finish()


_EXPLORE_OPTIONS = (
    "strategy",
    "runs",
    "seed",
    "depth",
    "preemption_bound",
    "time_budget",
    "max_steps",
    "uncontrolled_timeout",
    "thread_errors",
    "patch",
    "granularity",
    "trace",
    "timers",
    "inject_cancel",
    "races",
    "benign",
    "shard",
)


def _shared_fixtures(item: pytest.Function) -> list[str]:
    """Function-scoped fixtures (not parameters, not shareable ones) the test receives."""
    info = item._fixtureinfo
    params = set(getattr(getattr(item, "callspec", None), "params", {}))
    shared = []
    for name in info.argnames:
        definitions = info.name2fixturedefs.get(name)
        if not definitions or name in params or name in _SHAREABLE_FIXTURES:
            continue
        if definitions[-1].scope == "function":
            shared.append(name)
    return shared


def _refuse_misuse(item: pytest.Item) -> None:
    """The marker's body called the fixture's explore/replay: a usage error, not a finding."""
    __tracebackhide__ = True
    misuse = item.stash.get(_MISUSE, None)
    if misuse is not None:
        raise pytest.fail.Exception(misuse, pytrace=False) from None


def _selecting_options(item: pytest.Item) -> list[str]:
    """Command-line options without which ``item``'s node id would not exist.

    pytest-repeat's ``--count=N`` makes the ``[2-3]`` ids; a ``repeat`` marker
    makes them without it.
    """
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "__pytest_repeat_step_number" in params and item.get_closest_marker("repeat") is None:
        return [f"--count={item.config.getoption('count')}"]
    return []


def _async_host(item: pytest.Function) -> str | None:
    """The async test plugin that would run this ``async def`` test's body, if any."""
    if "anyio_backend" in item.fixturenames:
        return "anyio"
    if item.get_closest_marker("asyncio") and item.config.pluginmanager.has_plugin("asyncio"):
        return "pytest-asyncio"
    return None


def _async_fixtures(item: pytest.Function) -> list[str]:
    """The async fixtures the test needs, directly or through other fixtures."""
    from pytest_concurrency.world.aio.hosts import is_async_function

    definitions = item._fixtureinfo.name2fixturedefs
    return [
        name
        for name in item.fixturenames
        if definitions.get(name) and is_async_function(definitions[name][-1].func)
    ]


def _check_token(item: pytest.Function) -> None:
    """Before the test runs: refuse a replay token known to belong to another test."""
    token = item.config.stash[_DEFAULTS].replay
    if token is None:
        return
    from pytest_concurrency.world import owners

    marked = item.get_closest_marker(_MARKER) is not None
    if not marked and "interleavings" not in item.fixturenames:
        return
    problem = owners.foreign_token(
        token,
        test=item.nodeid,
        body=item.obj if marked else None,
        test_function=item.obj,
        others=_other_tests(item),
    )
    if problem is not None:
        pytest.fail(problem, pytrace=False)


def _other_tests(item: pytest.Function) -> dict[str, object]:
    """The test functions of the item's module and of the session, by node id."""
    tests: dict[str, object] = {}
    prefix = item.nodeid.split("::")[0]
    for name, value in vars(item.module).items():
        if name.startswith("test") and callable(value):
            tests[f"{prefix}::{name}"] = value
        elif name.startswith("Test") and isinstance(value, type):
            for attr, member in vars(value).items():
                if attr.startswith("test") and callable(member):
                    tests[f"{prefix}::{name}::{attr}"] = member
    for other in item.session.items:
        if isinstance(other, pytest.Function):
            tests.setdefault(other.nodeid.split("[")[0], other.function)
    tests.pop(item.nodeid.split("[")[0], None)
    return tests


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Refuse, before the test runs, what an interleavings test cannot do.

    A replay token known to belong to another test; for an ``async def`` body
    that an async plugin would run on its own loop: async fixtures (bound to
    that loop) and, after the fixtures are set up, an anyio backend other than
    plain asyncio. The body itself is kept, to be explored on the controlled loop.
    """
    if not isinstance(item, pytest.Function):
        return (yield)
    _check_token(item)
    host = None
    if item.get_closest_marker(_MARKER) is not None:
        from pytest_concurrency.world.aio import hosts

        host = _async_host(item) if hosts.is_async_function(item.obj) else None
        if host is not None:
            refusal = hosts.unexplorable_fixtures(item.nodeid, host, _async_fixtures(item))
            if refusal is not None:
                pytest.fail(refusal, pytrace=False)
            item.stash[_BODY] = item.obj
    result = yield
    if host == "anyio":
        refusal = hosts.unexplorable_backend(item.nodeid, item.funcargs.get("anyio_backend"))
        if refusal is not None:
            pytest.fail(refusal, pytrace=False)
    return result


@pytest.hookimpl(optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """pytest-timeout's thread method ends the process at the timeout, raising nothing:
    for a test that explores, print first how far the exploration got."""
    if getattr(settings, "method", None) != "thread" or not _explores(item):
        return None  # pytest-timeout sets its own timer
    import threading

    from pytest_timeout import timeout_timer  # type: ignore[import-untyped,unused-ignore]

    def expired() -> None:
        from pytest_concurrency.world.interrupted import in_progress

        text = in_progress()
        if text is not None:
            sys.stderr.write(text + "\n")  # shown with the captured output it dumps
        timeout_timer(item, settings)

    timer = threading.Timer(settings.timeout, expired)
    timer.name = f"pytest_timeout {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # what pytest-timeout calls
    timer.start()
    return True


def _explores(item: pytest.Item) -> bool:
    return item.get_closest_marker(_MARKER) is not None or "interleavings" in getattr(
        item, "fixturenames", ()
    )


def _body(item: pytest.Function) -> Any:
    """The test body to explore: the collected ``async def`` one if an async plugin
    swapped it for a runner of its own loop (pytest-asyncio does, at call time)."""
    current = item.obj
    kept = item.stash.get(_BODY, None)
    if kept is not None and kept is not current:
        from pytest_concurrency.world.aio.hosts import is_async_function

        if not is_async_function(current):
            return kept
    return current


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, None, None]:
    """Run an ``@pytest.mark.interleavings`` test body once per explored schedule."""
    marker = pyfuncitem.get_closest_marker(_MARKER)
    if marker is None:
        yield
        return
    if marker.args:
        pytest.fail(
            f"@pytest.mark.{_MARKER} takes keyword options only (as explore()), "
            f"got positional {marker.args!r}",
            pytrace=False,
        )
    unknown = sorted(set(marker.kwargs) - set(_EXPLORE_OPTIONS))
    if unknown:
        pytest.fail(
            f"@pytest.mark.{_MARKER}: unknown option(s) {', '.join(unknown)}; "
            f"valid: {', '.join(_EXPLORE_OPTIONS)}",
            pytrace=False,
        )
    shared = _shared_fixtures(pyfuncitem)
    if shared:
        pyfuncitem.warn(
            InterleavingsFixtureWarning(
                f"{pyfuncitem.name} runs once per schedule but its function-scoped "
                f"fixture(s) {', '.join(shared)} are set up once and shared by every schedule"
            )
        )
    # an ``async def`` body is explored as it is, whether or not an asyncio plugin
    # is installed: the wrapper is synchronous (so pytest-asyncio's and anyio's
    # runners leave it alone) and explore() runs the coroutine on its controlled loop
    original = pyfuncitem.obj
    body = _body(pyfuncitem)
    runner = Interleavings(pyfuncitem, marker=True)

    @functools.wraps(body)
    def explored(*args: Any, **kwargs: Any) -> None:
        __tracebackhide__ = True
        pyfuncitem.stash[_MARKED_RUN] = True
        try:
            result = runner.explore(functools.partial(body, *args, **kwargs), **marker.kwargs)
        finally:
            pyfuncitem.stash[_MARKED_RUN] = False
        _refuse_misuse(pyfuncitem)
        runner.finish()
        # a pass says what it covered (JUnit XML <property>, for CI tools)
        pyfuncitem.user_properties.extend(
            (f"interleavings_{name}", value) for name, value in result.properties()
        )

    pyfuncitem.obj = explored
    try:
        yield
    finally:
        pyfuncitem.obj = original
