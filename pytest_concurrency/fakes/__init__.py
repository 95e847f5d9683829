"""Gated fakes: test doubles whose callers wait until the test lets them through.

- :class:`GatedFake`: a ``Mock``-like callable (and awaitable via ``acall``).
- :class:`GatedEncoder`: a deterministic text encoder (a fake embedding model).
- :class:`Gate`: the one gate both use; usable on its own to gate any code.
- :class:`FakeTracker`: the teardown check behind the ``gated_fake`` and
  ``gated_encoder`` fixtures.
"""

from __future__ import annotations

from pytest_concurrency.fakes._callers import BlockedCaller
from pytest_concurrency.fakes._encoder import GatedEncoder, text_vector
from pytest_concurrency.fakes._fake import GatedFake
from pytest_concurrency.fakes._gate import Gate
from pytest_concurrency.fakes._gated import GateControls
from pytest_concurrency.fakes._tracking import FakeTracker

__all__ = [
    "BlockedCaller",
    "FakeTracker",
    "Gate",
    "GateControls",
    "GatedEncoder",
    "GatedFake",
    "text_vector",
]
