"""What every contract shares: collection rules, budgets, the leak check, exploring a property.

A contract is a plain pytest test class: one ``test_*`` method per property,
whose docstring states the property. The base class
itself and the per-guard bases are never collected (``__test__ = False``); a
subclass is collected when its name matches ``python_classes``
(``__init_subclass__`` gives it a truthy ``__test__`` unless it sets its own),
so ``class TestMyCache(BuildOnceCacheContract)`` is all a downstream project
writes besides ``make_subject``.

The same methods run outside pytest through :func:`~pytest_concurrency.contracts.run_contract`,
so nothing here depends on pytest running: the leak check is a context manager
(:meth:`Contract.property_scope`) that the autouse fixture and the runner both
use, and :meth:`Contract.explore` goes through the ``interleavings`` fixture
when pytest provides one (for ``--interleavings-replay`` and the failure hook)
and through :func:`pytest_concurrency.explore` otherwise.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest

from pytest_concurrency.errors import ConcurrencyError
from pytest_concurrency.world import api as _explorer
from pytest_concurrency.world.report import InterleavingFailure

__all__ = ["Contract", "Exploration", "ExplorationBudgetError", "SubjectError"]

#: the package whose classes are contracts, not subjects (``pytest_concurrency.contracts``)
_PACKAGE = __name__.rpartition(".")[0]

C = TypeVar("C", bound="Contract")
F = TypeVar("F", bound=Callable[..., Any])


def abstract_subject(method: F) -> F:
    """Mark a contract's ``make_subject`` as the one a subclass must override."""
    method.__abstract_subject__ = True  # type: ignore[attr-defined]
    return method


class SubjectError(ConcurrencyError, TypeError):
    """``make_subject`` returned something the contract cannot use (None, a missing method)."""


class ExplorationBudgetError(ConcurrencyError, RuntimeError):
    """An exhaustive exploration did not cover its space within the contract's budget.

    Not a property violation: the subject has more classes of interleavings
    than the budget allows for. Raise ``max_schedules`` or set a ``preemption_bound``.
    """


class _CollectedByName:
    """The ``__test__`` of contract subclasses: truthy, so pytest collects them, but not ``True``.

    pytest collects a class whose ``__test__ is True`` whatever its name; with
    this value a subclass is collected only when its name matches
    ``python_classes`` (``Test*``), so helper subclasses and bases stay out.
    """

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "COLLECTED_BY_NAME"


COLLECTED_BY_NAME = _CollectedByName()

#: raised by a scenario, these are not a failing schedule: the explorer's failure is dropped
_RAISED_AS_IS = (SubjectError, NotImplementedError, pytest.skip.Exception)


@dataclass(frozen=True)
class Exploration:
    """One exploration a property ran: what the runner reports as "schedules explored"."""

    strategy: str
    schedules: int
    exhausted: bool
    seconds: float
    #: what it covered, in words (``ExploreResult.coverage``)
    coverage: str = ""


class Contract:
    """Base of every contract class; see the module docstring.

    Class attributes a subclass may override (budgets and checks):

    - ``preemption_bound``: the most preemptions per schedule in exhaustive
      explorations (default None: no bound, every class of interleavings);
    - ``max_schedules``: the most schedules an exhaustive exploration may take
      before it is an :class:`ExplorationBudgetError`;
    - ``trace``: the code under test whose shared-memory accesses are
      scheduling points, as ``explore(trace=...)``, besides the contract's own
      scenarios (default None: your project's non-test code under the current
      directory). Name your guard's package here when it is installed or lives
      in a test directory: the reduction reorders only the accesses it sees;
    - ``pct_runs`` and ``explore_seed``: for properties a subclass adds and explores
      with ``explore(..., exhaustive=False)`` (PCT);
    - ``leak_kinds`` and ``leak_grace``: what each property is checked for
      leaking (``""`` turns the check off), and how long to wait for threads
      that are finishing.
    """

    __test__: ClassVar[bool | _CollectedByName] = False

    #: ``make_subject``'s signature and what it must return, in words, for error messages
    subject_signature: ClassVar[str] = "make_subject(self)"
    subject_description: ClassVar[str] = "the implementation under test"
    #: methods the subject must have
    subject_methods: ClassVar[tuple[str, ...]] = ()

    preemption_bound: ClassVar[int | None] = None
    max_schedules: ClassVar[int] = 5000
    trace: ClassVar[Any] = None
    pct_runs: ClassVar[int] = 300
    explore_seed: ClassVar[int] = 0
    leak_kinds: ClassVar[str] = "threads"
    leak_grace: ClassVar[float] = 1.0

    #: set by the autouse fixture under pytest; None when run by ``run_contract``
    _interleavings: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = COLLECTED_BY_NAME

    # -- the property list ----------------------------------------------------------------------

    @classmethod
    def properties(cls) -> tuple[str, ...]:
        """The property (``test_*``) method names, base classes first, in definition order."""
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if name.startswith("test_") and callable(value) and name not in names:
                    names.append(name)
        return tuple(names)

    @classmethod
    def describe(cls, name: str) -> str:
        """The first paragraph of a property's docstring, on one line: the property in words."""
        doc = inspect.getdoc(getattr(cls, name)) or name
        return " ".join(doc.split("\n\n")[0].split())

    @classmethod
    def subject_is_defined(cls) -> bool:
        """True when a subclass overrides ``make_subject``."""
        return not getattr(cls.make_subject, "__abstract_subject__", False)

    @classmethod
    def for_subject(
        cls: type[C], factory: Callable[..., Any], *, name: str = "", **attributes: Any
    ) -> type[C]:
        """A subclass whose ``make_subject(*args)`` returns ``factory(*args)``.

        ``name`` names the class (default: ``factory``'s name); ``attributes``
        override class attributes (budgets: ``max_schedules=100``). For running a
        contract against many implementations with :func:`run_contract`.
        """
        title = name or getattr(factory, "__name__", "") or f"{cls.__name__}Subject"

        def make_subject(self: Contract, *args: Any) -> Any:
            return factory(*args)

        namespace = {
            "make_subject": make_subject,
            "__module__": getattr(factory, "__module__", None) or cls.__module__,
            "__qualname__": title,
            **attributes,
        }
        return type(title, (cls,), namespace)

    # -- pytest integration ---------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _contract_property(self, request: pytest.FixtureRequest) -> Iterator[None]:
        """Run each property under the leak check, exploring through ``interleavings``."""
        with contextlib.suppress(pytest.FixtureLookupError):  # plugin disabled: plain explore
            self._interleavings = request.getfixturevalue("interleavings")
        with self.property_scope():
            yield

    @contextlib.contextmanager
    def property_scope(self) -> Iterator[None]:
        """Check that the property leaves no thread (``leak_kinds``) behind.

        A property that failed reports its own failure; the leak report is only
        raised for a property that passed.
        """
        if not self.leak_kinds:
            yield
            return
        from pytest_concurrency.leaks import LeakChecker

        checker = LeakChecker(self.leak_kinds, grace=self.leak_grace).start()
        try:
            yield
        except BaseException:
            checker.abort()
            raise
        report = checker.finish()
        if report:
            raise AssertionError(
                f"{type(self).__name__}: the subject leaked during this property\n{report.format()}"
            )

    # -- helpers for the properties -----------------------------------------------------------

    @abstract_subject
    def make_subject(self, *args: Any) -> Any:
        """Return the implementation under test (each contract documents its signature)."""
        raise NotImplementedError(self._override_message())

    def _override_message(self) -> str:
        return (
            f"{type(self).__name__} must override {self.subject_signature} to return "
            f"{self.subject_description} (see {self._contract_name()})"
        )

    def _contract_name(self) -> str:
        """The contract this class derives from (``SingleFlightContract``)."""
        for klass in type(self).__mro__:
            if klass.__module__.startswith(_PACKAGE) and klass is not Contract:
                return klass.__name__
        return Contract.__name__

    def _traced(self) -> list[Any]:
        """``trace`` and the module of the contract's own scenarios (which must be traced
        too: their accesses to what they share are scheduling points)."""
        named = self.trace if isinstance(self.trace, (list, tuple)) else [self.trace]
        contract = next(
            klass
            for klass in type(self).__mro__
            if klass.__module__.startswith(_PACKAGE) and klass is not Contract
        )
        return [*named, contract.__module__]

    def subject(self, *args: Any) -> Any:
        """Call ``make_subject(*args)`` and check that the result is usable."""
        made = self.make_subject(*args)
        where = f"{type(self).__name__}.make_subject()"
        if made is None:
            raise SubjectError(f"{where} returned None; it must return {self.subject_description}")
        missing = [name for name in self.subject_methods if not callable(getattr(made, name, None))]
        if missing:
            raise SubjectError(
                f"{where} returned {made!r}, which has no callable {', '.join(missing)}; "
                f"it must return {self.subject_description}"
            )
        return made

    def explore(
        self,
        scenario: Callable[[], object],
        *,
        exhaustive: bool = True,
        bounded: bool = False,
        **options: Any,
    ) -> Exploration:
        """Explore ``scenario``: with the explorer's default (the reduction, dpor at
        memory granularity) to exhaustion, else with pct.

        The exhaustive exploration covers every class of interleavings within
        ``preemption_bound`` (None: no bound), threads and asyncio tasks
        alike; one that does not within
        ``max_schedules`` raises :class:`ExplorationBudgetError`. ``bounded``
        explores with dfs over the synchronisation points instead, within
        ``preemption_bound`` (default 2) preemptions: for a property whose
        classes of interleavings at memory granularity are still too many to
        cover in seconds (the result says which way it was explored). Data races
        are not reported: a contract checks outcomes, and a guard may race on a
        flag by design (a double-checked cache's first read). A failing
        schedule raises the explorer's :class:`InterleavingFailure` (trace and
        replay token included), except when ``make_subject`` itself was at
        fault: then the :class:`SubjectError` is raised as is.
        """
        if exhaustive and bounded:
            options = {
                "strategy": "dfs",
                "granularity": "sync",
                "preemption_bound": 2 if self.preemption_bound is None else self.preemption_bound,
                "runs": self.max_schedules,
                **options,
            }
        elif exhaustive:
            # the explorer's default strategy, the reduction: within preemption_bound if
            # the class sets one
            bounds = (
                {} if self.preemption_bound is None else {"preemption_bound": self.preemption_bound}
            )
            options = {
                **bounds,
                "runs": self.max_schedules,
                "races": "ignore",
                **({} if self.trace is None else {"trace": self._traced()}),
                **options,
            }
        else:
            options = {
                "strategy": "pct",
                "runs": self.pct_runs,
                "seed": self.explore_seed,
                **options,
            }
        runner = self._interleavings
        try:
            if runner is not None:
                result = runner.explore(scenario, **options)
            else:
                result = _explorer.run_exploration(
                    scenario,
                    _explorer.ExploreOptions.create(**options),
                    command=lambda token: self._replay_command(scenario, token),
                )
        except InterleavingFailure as failure:
            if isinstance(failure.__cause__, _RAISED_AS_IS):
                raise failure.__cause__ from None
            raise
        if exhaustive and not result.exhausted:
            raise ExplorationBudgetError(
                f"{type(self).__name__}: {result.coverage}: the property's interleavings were "
                f"not all covered within {result.schedules_run} schedules "
                f"({result.elapsed:.1f} s); raise max_schedules or set (lower) a "
                "preemption_bound on the contract subclass"
            )
        exploration = Exploration(
            result.strategy, result.schedules_run, result.exhausted, result.elapsed, result.coverage
        )
        self.explorations.append(exploration)
        return exploration

    def _replay_command(self, scenario: Callable[[], object], token: str) -> str:
        """Outside pytest: the pytest command that replays ``token`` for this class."""
        qualname = getattr(scenario, "__qualname__", "")
        name = next((part for part in qualname.split(".") if part.startswith("test_")), "")
        selection = f"{type(self).__name__} and {name}" if name else type(self).__name__
        return f'pytest -k "{selection}" --interleavings-replay={token}'

    @property
    def explorations(self) -> list[Exploration]:
        """The explorations run by the current property (for the runner's report)."""
        found: list[Exploration] | None = self.__dict__.get("_explorations")
        if found is None:
            found = self.__dict__["_explorations"] = []
        return found
