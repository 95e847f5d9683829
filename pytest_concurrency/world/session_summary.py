"""What a test session's explorations came to: the records and the summary's lines.

The records are plain data (str, int, float) so that a pytest-xdist worker
can send them to the controller, which prints one summary for the session.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: strategies that cover a space (and may exhaust it), as opposed to sampling it
SYSTEMATIC = ("dfs", "dpor")
#: passing explorations that did not exhaust their space named by the summary, at most
NAMED_NOT_EXHAUSTED = 5


@dataclass(frozen=True)
class ExplorationRecord:
    """One finished exploration of a test."""

    nodeid: str
    strategy: str
    schedules: int
    elapsed: float
    exhausted: bool = False
    granularity: str = "sync"
    #: dfs and dpor: the preemption bound (None: none)
    preemption_bound: int | None = None
    #: dpor: the equivalence classes run (None for the other strategies)
    classes: int | None = None
    #: True when it ended with a failure rather than a pass
    failed: bool = False

    @property
    def kind(self) -> str:
        """How it explored: ``dpor, memory granularity, no preemption bound``."""
        how = f"{self.strategy}, {self.granularity} granularity"
        if self.strategy not in SYSTEMATIC:
            return how
        bound = self.preemption_bound
        return how + (", no preemption bound" if bound is None else f", preemption bound {bound}")


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
        out += self._kinds()
        for failure in self.failures:
            out.append(f"{failure.nodeid}: {failure.summary}")
            out.append(f"  replay: {failure.command}")
            if failure.report:
                out.append(f"  report: {failure.report}")
        return out

    def _kinds(self) -> list[str]:
        """One line per way of exploring: what the passing explorations covered.

        A systematic pass (dfs, dpor) is a proof only when it exhausted its
        space: those that did not are counted, and the first few named.
        """
        kinds: dict[str, list[ExplorationRecord]] = {}
        for record in self.explorations:
            if not record.failed:
                kinds.setdefault(record.kind, []).append(record)
        out = []
        for kind, records in kinds.items():
            runs = sum(record.schedules for record in records)
            ran = _count(runs, "execution")
            classes = [record.classes for record in records if record.classes is not None]
            if classes:
                ran = f"{_count(sum(classes), 'equivalence class', 'es')} in {ran}"
            line = f"  {kind}: {_count(len(records), 'pass', 'es')}, {ran}"
            if records[0].strategy not in SYSTEMATIC:
                out.append(line + " (sampled)")
                continue
            short = [record for record in records if not record.exhausted]
            counts = f"{len(records) - len(short)} exhausted, {len(short)} NOT exhausted"
            out.append(f"{line}; {counts}")
            if short:
                named = ", ".join(
                    f"{record.nodeid} ({_count(record.schedules, 'execution')})"
                    for record in short[:NAMED_NOT_EXHAUSTED]
                )
                more = len(short) - NAMED_NOT_EXHAUSTED
                rest = f" and {more} more" if more > 0 else ""
                out.append(f"    not exhausted: {named}{rest}")
        return out


def _count(number: int, noun: str, plural: str = "s") -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}{plural}"
