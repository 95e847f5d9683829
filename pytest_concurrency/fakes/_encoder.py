"""GatedEncoder: a fake embedding model, behind a gate.

It comes from a cache stampede: the cold build of a vocabulary cache ran once
per concurrent caller -- four requests found the cache file missing and each
re-encoded the whole vocabulary. The regression test needs an encoder that (a)
counts ``encode`` calls, (b) can hold every caller inside ``encode`` until the
stampede has certainly formed, and (c) returns vectors a test can predict. This
is it.

Vectors come from SHAKE-256 of the text, never ``hash()``: the same text gives
the same vector in every process, under every ``PYTHONHASHSEED``, on every
platform, so cached files and expected values can be compared across runs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING
from unittest.mock import call

from pytest_concurrency.fakes._gate import Gate
from pytest_concurrency.fakes._gated import CallLog, GateControls, gate_label

if TYPE_CHECKING:
    from unittest.mock import _Call


def text_vector(text: str, dim: int) -> list[float]:
    """The unit-length vector of ``dim`` floats that a GatedEncoder gives ``text``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {text!r}")
    digest = hashlib.shake_256(text.encode("utf-8", "surrogatepass")).digest(4 * dim)
    raw = [int.from_bytes(digest[i : i + 4], "big") / 2**31 - 1.0 for i in range(0, 4 * dim, 4)]
    norm = math.sqrt(math.fsum(x * x for x in raw))
    return [x / norm for x in raw] if norm else raw


def _text_batch(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"texts must be an iterable of str, not a single {type(texts).__name__}")
    batch = list(texts)
    for text in batch:
        if not isinstance(text, str):
            raise TypeError(f"texts must contain only str, got {text!r}")
    return batch


class GatedEncoder(GateControls):
    """A deterministic text encoder whose ``encode`` callers wait at a gate.

    Args:
        dim: length of every vector (>= 1).
        name: shown in messages and teardown reports.
        opened: start with the gate open; by default callers wait.
        block_timeout: real seconds a caller waits before ``TimeoutError``.

    Example:
        >>> encoder = GatedEncoder(dim=4, opened=True)
        >>> [vector] = encoder.encode(["cat"])
        >>> vector == encoder.vector("cat"), len(vector), encoder.encode_calls
        (True, 4, 1)
    """

    def __init__(
        self,
        dim: int = 8,
        *,
        name: str | None = None,
        opened: bool = False,
        block_timeout: float = 30.0,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"dim must be an int >= 1, got {dim!r}")
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.name = name
        self.gate = Gate(
            gate_label("GatedEncoder", name), opened=opened, block_timeout=block_timeout
        )
        self._log = CallLog()

    def vector(self, text: str) -> list[float]:
        """The vector ``encode`` gives ``text``, computed without the gate or a record."""
        return text_vector(text, self.dim)

    def encode(self, texts: Iterable[str]) -> list[list[float]]:
        """Record the call, wait at the gate, then return one vector per text."""
        __tracebackhide__ = True  # a timeout at the gate points at the caller, not at us
        batch = _text_batch(texts)
        self._log.record(call(batch))
        with self.gate.passage():
            return [self.vector(text) for text in batch]

    async def aencode(self, texts: Iterable[str]) -> list[list[float]]:
        """As :meth:`encode`, waiting without blocking the event loop."""
        __tracebackhide__ = True  # a timeout at the gate points at the caller, not at us
        batch = _text_batch(texts)
        self._log.record(call(batch))
        async with self.gate.apassage():
            return [self.vector(text) for text in batch]

    @property
    def encode_calls(self) -> int:
        """How many ``encode``/``aencode`` calls arrived (including those still waiting)."""
        return len(self._log)

    @property
    def encoded_batches(self) -> list[list[str]]:
        """The texts of each call, in arrival order."""
        entries: list[_Call] = self._log.snapshot()
        return [list(entry.args[0]) for entry in entries]

    def reset_calls(self) -> None:
        """Forget the recorded calls; the gate and its counters are untouched."""
        self._log.clear()

    def __repr__(self) -> str:
        state = self.gate.summary()
        return f"<{self.gate.label} dim={self.dim}: {state}, {self.encode_calls} calls>"
