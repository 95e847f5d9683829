"""What a test session's explorations came to: the records and the summary's lines.

The records are plain data (str, int, float) so that a pytest-xdist worker
can send them to the controller, which prints one summary for the session.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExplorationRecord:
    """One finished exploration of a test."""

    nodeid: str
    strategy: str
    schedules: int
    elapsed: float
    exhausted: bool = False


@dataclass(frozen=True)
class FailureRecord:
    """One failing exploration (or replay) of a test, and how to see it again."""

    nodeid: str
    summary: str
    command: str
    report: str = ""


@dataclass
class SessionSummary:
    """Everything the session's summary section says."""

    explorations: list[ExplorationRecord] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        """Plain data (what pytest-xdist can carry from a worker)."""
        return {
            "explorations": [asdict(record) for record in self.explorations],
            "failures": [asdict(record) for record in self.failures],
        }

    def merge_data(self, data: dict[str, Any]) -> None:
        """Add what :meth:`to_data` gave (a worker's summary) to this one."""
        self.explorations += [ExplorationRecord(**r) for r in data.get("explorations", ())]
        self.failures += [FailureRecord(**r) for r in data.get("failures", ())]

    def lines(self) -> list[str]:
        """The summary section's lines; none when no exploration ran."""
        if not self.explorations and not self.failures:
            return []
        schedules = sum(record.schedules for record in self.explorations)
        seconds = sum(record.elapsed for record in self.explorations)
        tests = len({record.nodeid for record in self.explorations})
        exhausted = sum(record.exhausted for record in self.explorations)
        head = (
            f"{_count(len(self.explorations), 'exploration')} in {_count(tests, 'test')}: "
            f"{_count(schedules, 'schedule')} in {seconds:.1f} s"
        )
        if exhausted:
            head += f", {exhausted} covered their whole space"
        out = [head + f"; {_count(len(self.failures), 'failure')}"]
        for failure in self.failures:
            out.append(f"{failure.nodeid}: {failure.summary}")
            out.append(f"  replay: {failure.command}")
            if failure.report:
                out.append(f"  report: {failure.report}")
        return out


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
