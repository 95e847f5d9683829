"""What a scenario must be, checked so that no exploration passes without running it.

A scenario is called with no arguments once per schedule. A generator
function, or a callable that needs arguments, could never run its body: both
are refused before the first schedule. A sync callable that *returns* an
un-run coroutine or generator (``lambda: main()``) is only seen once it ran:
:class:`ReturnCheck` notices it and the exploration refuses it after the run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pytest_concurrency.world import token as tokens


def check(scenario: Any) -> None:
    """Refuse, before any run, a scenario whose body a run could never execute."""
    if not callable(scenario):
        raise TypeError(
            "scenario must be a zero-argument callable or coroutine function, "
            f"got {type(scenario).__name__}"
        )
    if inspect.isgeneratorfunction(scenario) or inspect.isasyncgenfunction(scenario):
        kind = "an async generator" if inspect.isasyncgenfunction(scenario) else "a generator"
        raise TypeError(
            f"scenario is {kind} function: its body would never run (calling it only "
            "creates the generator), so every schedule would pass. Remove the yield, or "
            "pass a function that consumes the generator"
        )
    _check_no_arguments(scenario)


def _check_no_arguments(scenario: Callable[..., object]) -> None:
    """A scenario is called with no arguments: one that needs some would fail every run."""
    try:
        signature = inspect.signature(scenario)
    except (TypeError, ValueError):
        return  # no readable signature (some builtins): let the call decide
    try:
        signature.bind()
    except TypeError:
        missing = [
            name
            for name, parameter in signature.parameters.items()
            if parameter.default is parameter.empty
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]
        raise TypeError(
            f"scenario {tokens.scenario_name(scenario)!r} is called with no arguments, but it "
            f"needs {', '.join(missing)}: bind them first (functools.partial(scenario, ...) or "
            "a lambda), or give them defaults"
        ) from None


class ReturnCheck:
    """Runs a sync scenario and remembers if it returned a body that never ran."""

    def __init__(self, scenario: Callable[[], object]) -> None:
        self.scenario = scenario
        #: what the scenario returned that it should have run ("a coroutine"), if anything
        self.unrun: str | None = None

    @property
    def target(self) -> Callable[[], object]:
        """What a run calls: a coroutine function as is (it runs on the controlled loop)."""
        if inspect.iscoroutinefunction(self.scenario):
            return self.scenario
        return self._call

    def _call(self) -> None:
        result = self.scenario()
        kind = _unrun_kind(result)
        if kind is not None:
            self.unrun = kind
            close = getattr(result, "close", None)
            if close is not None:
                close()  # no "never awaited" warning on top of this error

    def check(self) -> None:
        """Raise TypeError if the scenario returned a coroutine or generator it never ran."""
        if self.unrun is not None:
            raise TypeError(
                f"scenario {tokens.scenario_name(self.scenario)!r} returned {self.unrun} "
                "without running it, so its body never ran and no schedule tested anything. "
                "Pass the coroutine function itself (explore(main), not explore(lambda: "
                "main())), or run it inside the scenario with asyncio.run(...)"
            )


def _unrun_kind(result: object) -> str | None:
    if inspect.iscoroutine(result):
        return "a coroutine"
    if inspect.isasyncgen(result):
        return "an async generator"
    if inspect.isgenerator(result):
        return "a generator"
    return None
