"""How many different schedules an exploration ran, in memory that stops growing.

Keeping every schedule's hash makes a long exploration's memory grow with
its runs (about 100 bytes a distinct schedule: 10 MB after 100,000). The
count is exact while the schedules are few -- a set of their hashes, up to
:data:`EXACT_LIMIT` -- and past that an estimate from a HyperLogLog sketch of
fixed size (:data:`REGISTERS` one-byte registers; standard error about
``1.04 / sqrt(REGISTERS)``, 1.6%), which the result says it is.

Hashes are those of the choice tuples (integers only: the same in every
process, whatever ``PYTHONHASHSEED``), mixed so that every bit counts.
"""

from __future__ import annotations

import math

#: distinct schedules counted exactly; past this the count is estimated
EXACT_LIMIT = 4096
#: log2 of the sketch's register count
_PRECISION = 12
REGISTERS = 1 << _PRECISION
_MASK = (1 << 64) - 1
_TAIL_BITS = 64 - _PRECISION


def _mixed(value: int) -> int:
    """A 64-bit mix of ``value`` (splitmix64's finalizer): each input bit moves every output bit."""
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    value = (value ^ (value >> 27)) * 0x94D049BB133111EB & _MASK
    return value ^ (value >> 31)


class DistinctCounter:
    """Counts distinct choice sequences: exactly up to :data:`EXACT_LIMIT`, then estimated."""

    __slots__ = ("_exact", "_limit", "_registers")

    def __init__(self, limit: int | None = None) -> None:
        limit = EXACT_LIMIT if limit is None else limit
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        self._limit = limit
        self._exact: set[int] | None = set()
        self._registers: bytearray | None = None

    def add(self, choices: tuple[int, ...]) -> None:
        """Count one run's schedule."""
        key = hash(choices) & _MASK
        exact = self._exact
        if exact is not None:
            if len(exact) < self._limit or key in exact:
                exact.add(key)
                return
            self._to_sketch(exact)
        self._sketch(key)

    @property
    def exact(self) -> bool:
        """True while the count is exact."""
        return self._exact is not None

    @property
    def count(self) -> int:
        """How many distinct schedules were counted (an estimate once :attr:`exact` is False)."""
        if self._exact is not None:
            return len(self._exact)
        return max(self._limit + 1, round(self._estimate()))

    def _to_sketch(self, exact: set[int]) -> None:
        self._registers = bytearray(REGISTERS)
        for key in exact:
            self._sketch(key)
        self._exact = None

    def _sketch(self, key: int) -> None:
        registers = self._registers
        assert registers is not None
        mixed = _mixed(key)
        index = mixed >> _TAIL_BITS
        tail = mixed & ((1 << _TAIL_BITS) - 1)
        rank = _TAIL_BITS - tail.bit_length() + 1  # position of the first 1 bit
        if rank > registers[index]:
            registers[index] = rank

    def _estimate(self) -> float:
        registers = self._registers
        assert registers is not None
        m = REGISTERS
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / sum(2.0**-rank for rank in registers)
        zeros = registers.count(0)
        if raw <= 2.5 * m and zeros:
            return m * math.log(m / zeros)  # few items: linear counting is more precise
        return raw
