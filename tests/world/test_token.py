"""Replay tokens: round trip, every malformed shape, foreign tokens, exact replay."""

from __future__ import annotations

import threading

import pytest

from pytest_concurrency.world import token as tokens
from pytest_concurrency.world.api import checkpoint, explore, replay
from pytest_concurrency.world.report import InterleavingFailure
from pytest_concurrency.world.token import ReplayTokenError


@pytest.mark.parametrize("choices", [(), (0,), (1, 1, 1, 2, 0, 300, 300), tuple(range(50)) * 3])
def test_round_trip(choices: tuple[int, ...]) -> None:
    text = tokens.encode(choices, 1234)
    assert text.startswith("pc1.")
    decoded = tokens.decode(text)
    assert decoded.choices == choices
    assert decoded.tag == 1234
    assert decoded.granularity == "sync"


def test_runs_are_compact_and_whitespace_is_tolerated() -> None:
    text = tokens.encode([1] * 500, 7)
    assert len(text) < 30
    assert tokens.decode(text[:10] + "\n  " + text[10:]).choices == (1,) * 500


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("hello", "not a pytest-concurrency replay token"),
        ("pc9.AAAA", "version 9"),
        ("pc1.!!!!", "not base64url"),
        ("pc1.AAE", "truncated"),
    ],
)
def test_malformed_tokens(text: str, match: str) -> None:
    with pytest.raises(ReplayTokenError, match=match):
        tokens.decode(text)


def test_corrupted_and_truncated_tokens_fail_the_checksum() -> None:
    text = tokens.encode([0, 1, 2, 1, 0], 99)
    flipped = text[:-3] + ("A" if text[-3] != "A" else "B") + text[-2:]
    for bad in (flipped, text[:-2]):
        with pytest.raises(ReplayTokenError, match=r"checksum|truncated|base64"):
            tokens.decode(bad)
    assert isinstance(ReplayTokenError("x"), ValueError)
    with pytest.raises(ReplayTokenError, match="str"):
        tokens.decode(42)  # type: ignore[arg-type]


def _racy() -> None:
    box = {"n": 0}

    def add() -> None:
        value = box["n"]
        checkpoint("between")
        box["n"] = value + 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box["n"] == 2, box


def test_replay_reproduces_the_failure_with_its_trace() -> None:
    with pytest.raises(InterleavingFailure) as info:
        explore(_racy, strategy="random", runs=100, seed=4)
    token = info.value.token
    for _ in range(5):
        with pytest.raises(InterleavingFailure) as again:
            replay(_racy, token)
        assert again.value.token == token
        assert str(again.value.__cause__) == str(info.value.__cause__)
        assert len(again.value.trace) == len(info.value.trace) > 0


def test_foreign_tokens_are_clear_errors() -> None:
    with pytest.raises(InterleavingFailure) as info:
        explore(_racy, strategy="random", runs=100, seed=4)

    def _other() -> None:
        pass

    with pytest.raises(ReplayTokenError, match="another scenario"):
        replay(_other, info.value.token)
    # same name, different code: the choices do not fit
    wrong = tokens.encode([5, 5], tokens.scenario_tag(_racy))
    with pytest.raises(ReplayTokenError, match="does not fit"):
        replay(_racy, wrong)
    too_long = tokens.encode([0] * 40, tokens.scenario_tag(_racy))
    with pytest.raises(ReplayTokenError, match="does not fit"):
        replay(_racy, too_long)
