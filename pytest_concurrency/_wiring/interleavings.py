"""pytest wiring for the interleaving explorer: ``interleavings`` fixture, marker, options.

Thin on purpose: it resolves defaults (``--interleavings-runs`` /
``--interleavings-seed``, else their ini mirrors, else the library's), swaps
exploring for replaying when ``--interleavings-replay=TOKEN`` is given, formats
the replay command with the test's node id, and calls the
``pytest_concurrency_interleaving_failure`` hook before a failure propagates.
Exploring, replaying and reporting are :mod:`pytest_concurrency.world.api`'s job,
imported only when a test uses them.
"""

from __future__ import annotations

import dataclasses
import functools
import shlex
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_concurrency.world.api import ExploreResult
    from pytest_concurrency.world.patching import PatchPlan

_MARKER = "interleavings"
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
    }
)


class InterleavingsFixtureWarning(pytest.PytestWarning):
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


_DEFAULTS = pytest.StashKey[_Defaults]()


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
    replay = config.getoption("interleavings_replay")
    if replay is not None:
        from pytest_concurrency.world.token import ReplayTokenError, decode

        try:
            decode(replay)
        except ReplayTokenError as error:
            raise pytest.UsageError(f"--interleavings-replay: {error}") from None
    config.stash[_DEFAULTS] = _Defaults(runs, seed, replay)


class Interleavings:
    """What the ``interleavings`` fixture gives a test: explore, replay, patch.

    Like :func:`pytest_concurrency.explore` and :func:`~pytest_concurrency.replay`,
    with ``runs`` and ``seed`` defaulting to the command line (then ini) values
    when the call does not give them, failures reported to the
    ``pytest_concurrency_interleaving_failure`` hook, and a replay command that
    names this test. With ``--interleavings-replay=TOKEN``, an ``explore`` call
    whose scenario recorded that token replays it instead of exploring.
    """

    def __init__(self, item: pytest.Item) -> None:
        self._item = item
        self._defaults = item.config.stash[_DEFAULTS]
        self._plans: list[PatchPlan] = []
        self._explored = False
        self._replayed = False

    def __repr__(self) -> str:
        return f"<interleavings fixture of {self._item.nodeid}>"

    def check_replay_token(self, scenario: Callable[[], object]) -> None:
        """Before anything runs: a ``--interleavings-replay`` token must be this scenario's.

        For an ``@pytest.mark.interleavings`` test the test body is the only
        scenario, so a token recorded elsewhere is an error at once, not after
        a full exploration.
        """
        __tracebackhide__ = True  # pytest shows the user's frames, not ours
        token = self._defaults.replay
        if token is None:
            return
        from pytest_concurrency.world import api

        if not api.token_matches(scenario, token):
            from pytest_concurrency.world.token import ReplayTokenError

            raise ReplayTokenError(
                f"--interleavings-replay: the token was not recorded by {self._item.nodeid} "
                f"(it belongs to another test or scenario); nothing was run"
            )

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

        if self._defaults.runs is not None:
            options.setdefault("runs", self._defaults.runs)
        if self._defaults.seed is not None:
            options.setdefault("seed", self._defaults.seed)
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
            return api.ExploreResult("replay", None, 1, 1, False, _now() - started)
        result: ExploreResult = self._reported(
            functools.partial(api.run_exploration, scenario, explore_options, command=self._command)
        )
        return result

    def replay(self, scenario: Callable[[], object], token: str, **options: Any) -> None:
        """Re-run exactly the schedule of ``token``."""
        __tracebackhide__ = True  # pytest shows the user's frames, not ours
        from pytest_concurrency.world import api

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

    def _command(self, token: str) -> str:
        return f"pytest {shlex.quote(self._item.nodeid)} --interleavings-replay={token}"

    def _reported(self, call: Callable[[], Any]) -> Any:
        __tracebackhide__ = True  # pytest shows the user's frames, not ours
        from pytest_concurrency.world.report import InterleavingFailure

        try:
            return call()
        except InterleavingFailure as failure:
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
def interleavings(request: pytest.FixtureRequest) -> Iterator[Interleavings]:
    """Explore thread interleavings of a scenario; see :class:`Interleavings`."""
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
    # an ``async def`` body works too, without an asyncio plugin: the wrapper is
    # synchronous and explore() runs the coroutine on its controlled loop
    original = pyfuncitem.obj
    runner = Interleavings(pyfuncitem)

    @functools.wraps(original)
    def explored(*args: Any, **kwargs: Any) -> None:
        __tracebackhide__ = True  # pytest shows the user's frames, not ours
        scenario = functools.partial(original, *args, **kwargs)
        runner.check_replay_token(scenario)
        runner.explore(scenario, **marker.kwargs)
        runner.finish()

    pyfuncitem.obj = explored
    try:
        yield
    finally:
        pyfuncitem.obj = original
