"""What every contract test checks about a mutant's report."""

from __future__ import annotations

from typing import Any

from mutants import Mutant

from pytest_concurrency.contracts import Contract, ContractReport, run_contract


def check_mutant(mutant: Mutant, contract: type[Contract], **budgets: Any) -> ContractReport:
    """Run ``contract`` against ``mutant``: exactly its properties fail, readably; none errors.

    ``budgets`` override contract class attributes for this run (see ``Mutant.bind``).
    """
    skipped = {name for name, _ in mutant.skipped}
    assert skipped <= set(contract.properties()), skipped
    report = run_contract(
        mutant.bind(contract, **budgets),
        properties=[p for p in contract.properties() if p not in skipped],
    )
    assert not report.named("error"), f"{mutant.name}: a property errored\n{report.format()}"
    assert set(report.failed) == mutant.catches, (
        f"{mutant.name} ({mutant.bug}): expected {sorted(mutant.catches)} to fail, "
        f"got {sorted(report.failed)}\n{report.format()}"
    )
    for result in report.results:
        if result.outcome != "failed":
            continue
        assert result.message.strip(), f"{result.name} failed without a message"
        if result.explorations or result.token:
            assert "replay token: pc1." in result.message, result.message
            assert result.token.startswith("pc1."), result.token
    return report
