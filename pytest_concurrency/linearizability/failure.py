"""``NotLinearizable``: a schedule whose outcomes no sequential order of the operations gives."""

from __future__ import annotations

from typing import Any

from pytest_concurrency._public import public
from pytest_concurrency.linearizability.checker import Verdict
from pytest_concurrency.linearizability.history import Entry, draw
from pytest_concurrency.linearizability.scenario import Call
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.trace import Trace


def explain(history: tuple[Entry, ...], verdict: Verdict) -> str:
    """The history drawn per thread, and the result no sequential order explains."""
    lines = [
        "not linearizable: no sequential order of these operations gives these results",
        "",
        "history (one column per thread; event numbers in real-time order, "
        "'...' the call, '->' its result):",
        draw(history),
        "",
    ]
    placed = ", ".join(f"{entry.thread} {entry.call}" for entry in verdict.deepest)
    if verdict.deepest:
        lines.append(f"the longest order that explains the results so far: {placed}")
        lines.append("after it, no operation that may come next gives its result:")
    else:
        lines.append("no operation that may come first gives its result:")
    for refusal in verdict.refusals:
        entry = refusal.entry
        lines.append(
            f"  {entry.thread} {entry.call} {entry.outcome.told('returned', 'raised')}, "
            f"but run then it {refusal.model_outcome.told('returns', 'raises')}"
        )
    return "\n".join(lines)


@public
class NotLinearizable(InterleavingFailure):
    """Some schedule of a scenario has outcomes no sequential order of its operations gives.

    ``operations`` is the (shrunk) scenario, one list of operations per thread
    that ran (``operations[0]`` is thread ``T1``'s; a sequential prefix and
    suffix, run by ``main``, are in ``prefix`` and ``suffix``);
    ``history`` the failing schedule's operations, each with its thread, call,
    outcome and invocation/response event numbers; ``token`` the schedule.
    """

    def __init__(
        self,
        message: str,
        *,
        operations: list[list[Call]] | None = None,
        prefix: list[Call] | None = None,
        suffix: list[Call] | None = None,
        history: tuple[Entry, ...] = (),
        token: str = "",
        trace: Trace | None = None,
        strategy: str = "",
        seed: int | None = None,
        schedules_run: int = 0,
    ) -> None:
        super().__init__(
            message,
            token=token,
            trace=trace,
            strategy=strategy,
            seed=seed,
            schedules_run=schedules_run,
        )
        self.operations = operations if operations is not None else []
        self.prefix = prefix if prefix is not None else []
        self.suffix = suffix if suffix is not None else []
        self.history = history

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), str(self)),
            {
                **self.__dict__,
                "command": self.command,
                "wait_for": self.wait_for,
            },
        )


def _rebuild(cls: type[NotLinearizable], message: str) -> NotLinearizable:
    return cls(message)
