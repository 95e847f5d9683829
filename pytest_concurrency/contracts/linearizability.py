"""``LinearizabilityContract``: one test class per concurrent object, checked for linearizability.

A subclass declares the object's operations as methods marked with
:func:`operation` (each takes the subject and its drawn arguments), returns a
fresh object from ``make_subject`` and, optionally, a fresh sequential model
from ``make_model``::

    class TestMyQueue(LinearizabilityContract):
        def make_subject(self):
            return MyQueue()

        @operation(st.integers(0, 3))
        def put(self, queue, item):
            queue.put(item)

        @operation()
        def get(self, queue):
            return queue.get_or_none()

Its one property, ``test_linearizable``, runs
:func:`~pytest_concurrency.check_linearizable` with the class's shape
(``threads``, ``ops_per_thread``, ``prefix``, ``suffix``) and budget
(``max_examples`` scenarios; ``runs``/``time_budget`` per scenario).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, TypeVar

import hypothesis
from hypothesis.strategies import SearchStrategy

from pytest_concurrency.contracts._base import Contract, abstract_subject
from pytest_concurrency.linearizability import LinearizabilityResult, check_linearizable

__all__ = ["LinearizabilityContract", "operation"]

F = TypeVar("F", bound=Callable[..., Any])

#: the attribute :func:`operation` sets: the strategies of the operation's arguments
_MARK = "__linearizability_arguments__"


def operation(*arguments: SearchStrategy[Any]) -> Callable[[F], F]:
    """Mark a method ``(self, subject, *args)`` as an operation, one strategy per argument."""
    for position, strategy in enumerate(arguments, 1):
        if not isinstance(strategy, SearchStrategy):
            raise TypeError(
                f"operation(): argument {position} must be a Hypothesis strategy, "
                f"got {type(strategy).__name__}"
            )

    def mark(method: F) -> F:
        setattr(method, _MARK, arguments)
        return method

    return mark


class LinearizabilityContract(Contract):
    """Every history of concurrent operations on the subject is explained by a sequential one.

    Override ``make_subject(self)``; optionally ``make_model(self)`` (default:
    the subject itself, run one operation at a time) and ``model_key(self,
    model)`` (a hashable name of the model's state, for memoising the search).
    """

    subject_signature: ClassVar[str] = "make_subject(self)"
    subject_description: ClassVar[str] = "a fresh object under test"

    threads: ClassVar[int] = 2
    ops_per_thread: ClassVar[int] = 2
    prefix: ClassVar[int] = 0
    suffix: ClassVar[int] = 0
    #: scenarios Hypothesis generates (None: the current Hypothesis profile's)
    max_examples: ClassVar[int | None] = 25
    #: Hypothesis settings for the scenarios (given: used instead of ``max_examples``)
    hypothesis_settings: ClassVar[hypothesis.settings | None] = None
    #: per scenario: schedules (None: every class of them) and real seconds
    runs: ClassVar[int | None] = None
    time_budget: ClassVar[float | None] = None

    @abstract_subject
    def make_subject(self, *args: Any) -> Any:
        """Return a fresh object under test."""
        raise NotImplementedError(self._override_message())

    def make_model(self) -> Any:
        """A fresh sequential model (None, the default: the subject run one operation at a time)."""
        return None

    def model_key(self, model: Any) -> Hashable | None:
        """The model state's name for memoisation; None: the default rule."""
        return None

    def operations(self) -> dict[str, Any]:
        """The marked methods, bound, as ``check_linearizable``'s operations mapping."""
        found: dict[str, Any] = {}
        for name, value in inspect.getmembers(type(self)):
            arguments = getattr(value, _MARK, None)
            if arguments is not None:
                found[name] = (getattr(self, name), *arguments)
        if not found:
            raise TypeError(
                f"{type(self).__name__} declares no operations: mark methods "
                "(self, subject, *args) with @operation(strategy, ...)"
            )
        return found

    def test_linearizable(self) -> None:
        """Every outcome of concurrent operations is the outcome of some sequential order."""
        self.check()

    def check(self) -> LinearizabilityResult:
        """Run the check (what ``test_linearizable`` does), returning its result."""
        __tracebackhide__ = True
        uses_model = type(self).make_model is not LinearizabilityContract.make_model
        keyed = type(self).model_key is not LinearizabilityContract.model_key
        settings = self.hypothesis_settings
        if settings is None and self.max_examples is not None:
            settings = hypothesis.settings(max_examples=self.max_examples)
        return check_linearizable(
            self.subject,
            self.operations(),
            model=self.make_model if uses_model else None,
            key=self.model_key if keyed else None,
            threads=self.threads,
            ops_per_thread=self.ops_per_thread,
            prefix=self.prefix,
            suffix=self.suffix,
            settings=settings,
            runs=self.runs,
            time_budget=self.time_budget,
        )
