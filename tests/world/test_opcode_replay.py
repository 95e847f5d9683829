"""Opcode-granularity failures replay identically, instructions that belong to no line included.

Exception handling, ``with`` blocks, comprehensions and generator expressions
compile to some instructions that belong to no line (``f_lineno`` is None
there); which ones depends on the Python version. The scenarios of
:mod:`opcode_fuzz` run them in every thread, and the failure ``explore`` finds
must be the one ``replay(token)`` reports, with the same trace.
"""

from __future__ import annotations

from types import CodeType

import opcode_fuzz
import pytest

from pytest_concurrency import _callsite

#: generated scenarios in which every Python from 3.10 to 3.13 finds a lost update
SEEDS = (0, 9, 11, 12, 16, 25, 33, 40)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_fuzzed_failure_replays_with_the_same_trace(seed: int) -> None:
    outcome = opcode_fuzz.check(seed)
    assert outcome.failed, f"scenario {seed} found no failure: the check tested nothing"
    assert outcome.identical, outcome.why


def _codes() -> list[CodeType]:
    codes = []
    for op in opcode_fuzz.OPS:
        codes.append(op.__code__)
        codes += [const for const in op.__code__.co_consts if isinstance(const, CodeType)]
    return codes


def test_an_instruction_with_no_line_is_given_the_line_before_it() -> None:
    lineless = 0
    for code in _codes():
        previous = code.co_firstlineno
        for start, _end, line in code.co_lines():
            if line is None:
                lineless += 1
                assert _callsite.code_line(code, start) == previous
            else:
                assert _callsite.code_line(code, start) == line
                previous = line
    assert lineless, "no operation compiled to an instruction with no line: nothing was checked"
