"""What a test session's explorations came to: the records and the summary's lines.

The records are plain data (str, int, float) so that a pytest-xdist worker
can send them to the controller, which prints one summary for the session.
An exploration split in shards (one collected item per shard, maybe on
different workers or hosts) is covered as a whole only when every one of its
shards ran and was exhausted: the summary says so per test.
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
    #: the part of the space was covered (the whole space when not a shard)
    exhausted: bool = False
    granularity: str = "sync"
    #: dfs and dpor: the preemption bound (None: none)
    preemption_bound: int | None = None
    #: dpor: the equivalence classes run (None for the other strategies)
    classes: int | None = None
    #: True when it ended with a failure rather than a pass
    failed: bool = False
    #: the test as a whole, when ``nodeid`` is one of its shards' items ("": ``nodeid``)
    test: str = ""
    #: which part of the space, when it explored one shard: ``shard_index`` of ``shard_count``
    shard_index: int = 0
    shard_count: int = 1

    @property
    def kind(self) -> str:
        """How it explored: ``dpor, memory granularity, no preemption bound``."""
        how = f"{self.strategy}, {self.granularity} granularity"
        if self.strategy not in SYSTEMATIC:
            return how
        bound = self.preemption_bound
        return how + (", no preemption bound" if bound is None else f", preemption bound {bound}")

    @property
    def sharded(self) -> bool:
        return self.shard_count > 1


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
        tests = len({record.test or record.nodeid for record in self.explorations})
        split = self._sharded_tests()
        exhausted = sum(
            record.exhausted for record in self.explorations if not record.sharded
        ) + sum(whole for whole, _line in split.values())
        head = (
            f"{_count(len(self.explorations), 'exploration')} in {_count(tests, 'test')}: "
            f"{_count(schedules, 'schedule')} in {seconds:.1f} s"
        )
        if exhausted:
            head += f", {exhausted} covered their whole space"
        out = [head + f"; {_count(len(self.failures), 'failure')}"]
        out.extend(line for _whole, line in split.values())
        out += self._kinds()
        for failure in self.failures:
            out.append(f"{failure.nodeid}: {failure.summary}")
            out.append(f"  replay: {failure.command}")
            if failure.report:
                out.append(f"  report: {failure.report}")
        return out

    def _sharded_tests(self) -> dict[tuple[str, int], tuple[bool, str]]:
        """Per test split in shards: whether its whole space was covered, and the line saying so."""
        parts: dict[tuple[str, int], list[ExplorationRecord]] = {}
        for record in self.explorations:
            if record.sharded:
                parts.setdefault((record.test or record.nodeid, record.shard_count), []).append(
                    record
                )
        failed = {failure.nodeid for failure in self.failures}
        verdicts: dict[tuple[str, int], tuple[bool, str]] = {}
        for (test, count), records in parts.items():
            ran = {record.shard_index for record in records}
            failing = sorted({r.shard_index for r in records if r.nodeid in failed})
            short = sorted({r.shard_index for r in records if not r.exhausted} - set(failing))
            missing = sorted(set(range(count)) - ran)
            head = (
                f"{test}: {count} shards, {_count(sum(r.schedules for r in records), 'schedule')}: "
            )
            if not failing and not short and not missing:
                verdicts[test, count] = (True, head + "whole space covered (every shard exhausted)")
                continue
            gaps = [f"shard {index} failed" for index in failing]
            gaps += [f"shard {index} not exhausted" for index in short]
            gaps += [f"shard {index} did not run" for index in missing]
            verdicts[test, count] = (False, head + "not covered as a whole: " + ", ".join(gaps))
        return verdicts

    def _kinds(self) -> list[str]:
        """One line per way of exploring: what the passing explorations covered.

        A systematic pass (dfs, dpor) is a proof only when it exhausted its
        space: those that did not are counted, and the first few named. The
        shards of a split test are left to that test's own line.
        """
        kinds: dict[str, list[ExplorationRecord]] = {}
        for record in self.explorations:
            if not record.failed and not record.sharded:  # a split test has its own verdict
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
