"""The demo's linearizability section behaves as it says: three objects caught, three passing."""

from __future__ import annotations

from pytest_concurrency import demo
from pytest_concurrency.demo import linearizability_demo


def test_the_section_is_registered() -> None:
    assert "pytest_concurrency.demo.linearizability_demo" in demo.SECTIONS


def test_every_demonstration_behaves_as_expected() -> None:
    outcomes = linearizability_demo.run()
    assert [outcome.name for outcome in outcomes if not outcome.ok] == []
    caught = {outcome.name: outcome.observed for outcome in outcomes if outcome.detail}
    assert caught == {
        "lost-update counter": "caught: 2 operations",
        "check-then-pop queue": "caught: 3 operations",
        "check-then-create registry": "caught: 2 operations",
    }
    assert all("not linearizable" in outcome.detail for outcome in outcomes if outcome.detail)
