"""Replay tokens: round trip, every malformed shape, foreign tokens, exact replay."""

from __future__ import annotations

import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    "head",
    [
        "pc01",  # a leading zero
        "pc\u0661",  # ARABIC-INDIC DIGIT ONE: str.isdigit() and int() take it
        "pc\uff11",  # FULLWIDTH DIGIT ONE
        "pc\u00b2",  # SUPERSCRIPT TWO: isdigit() but not int()
        "pc0",
        "pc",
        "PC1",
        "pc1" + "0" * 5000,  # int() refuses more than 4300 digits
    ],
)
def test_only_ascii_pc_and_a_version_number_open_a_token(head: str) -> None:
    good = tokens.encode([0, 1], 5)
    with pytest.raises(ReplayTokenError, match="not a pytest-concurrency replay token") as info:
        tokens.decode(head + good[len("pc1") :])
    assert tokens.SHAPE in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["hello", "pc1", "pc1.", "pc1.!!!!", "pc1.AAE", "pc1.AAAAAAAA", "pc1.é", "pc1.\ud800"],
)
def test_every_malformed_token_says_what_a_token_looks_like(text: str) -> None:
    with pytest.raises(ReplayTokenError) as info:
        tokens.decode(text)
    assert str(info.value).endswith(tokens.SHAPE)


#: any text, and text shaped like a token: "pc", something digit-like, ".", a body
_TOKENISH = st.builds(
    lambda version, body: f"pc{version}.{body}",
    st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=3) | st.text(max_size=4),
    st.text() | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="),
)


@settings(max_examples=300, deadline=None)
@given(st.text() | _TOKENISH)
def test_any_text_decodes_or_is_a_replay_token_error(text: str) -> None:
    try:
        tokens.decode(text)
    except ReplayTokenError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 2**20), max_size=60),
    st.integers(0, 0xFFFF),
    st.sampled_from(tokens.GRANULARITIES),
    st.sampled_from(["autojump", "choice"]),
    st.integers(0, 2**16),
    st.integers(0, 0xFFFF),
)
def test_encode_then_decode_gives_back_the_schedule(
    choices: list[int], tag: int, granularity: str, timers: str, cancels: int, trace_tag: int
) -> None:
    text = tokens.encode(
        choices, tag, granularity, timers=timers, trace_tag=trace_tag, inject_cancel=cancels
    )
    decoded = tokens.decode(text)
    traced = granularity != "sync"
    assert decoded == tokens.Schedule(
        tuple(choices),
        tag,
        granularity,
        timers,
        python=tuple(sys.version_info[:2]) if traced else None,  # type: ignore[arg-type]
        trace_tag=trace_tag if traced else None,
        inject_cancel=cancels,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=30), st.data())
def test_a_damaged_token_is_a_replay_token_error(choices: list[int], data: st.DataObject) -> None:
    text = tokens.encode(choices, 3)
    position = data.draw(st.integers(0, len(text) - 1))
    damaged = data.draw(
        st.sampled_from(
            [
                text[:position],
                text[:position] + text[position + 1 :],
                text[:position] + data.draw(st.characters()) + text[position + 1 :],
            ]
        )
    )
    try:
        assert tokens.decode(damaged).choices == tuple(choices)  # the damage changed nothing
    except ReplayTokenError:
        pass


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
