"""The replay token: a schedule as compact, versioned, checksummed text.

``pc1.`` + base64url(payload + crc32(payload)), where the payload is::

    granularity (1 byte) | scenario tag (varint) | run count (varint) | runs...

and each run is ``thread index (varint) | repeat count (varint)``: the threads
chosen at the points where more than one thread was enabled, run-length encoded
(a default continuation repeats the same thread many times). Thread indexes are
creation order, so the token is the same in any process and under any
``PYTHONHASHSEED``; at sync-point granularity it depends only on the order of
synchronisation operations, not on the Python version's bytecode.

The scenario tag (16 bits of a CRC of the scenario's qualified name) and the
checksum turn a token pasted into the wrong test, truncated or mistyped into a
clear :class:`ReplayTokenError` instead of a confusing replay.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PREFIX = "pc"
VERSION = 1
#: granularities a token can record (only sync points for now)
GRANULARITIES = ("sync",)
#: more choices than any run can make (max_steps is far lower): a crafted token
MAX_CHOICES = 10_000_000


class ReplayTokenError(ValueError):
    """A replay token that is malformed, from another version, or for another scenario."""


@dataclass(frozen=True)
class Schedule:
    """A decoded token."""

    choices: tuple[int, ...]
    tag: int
    granularity: str = "sync"


def scenario_name(scenario: Callable[..., object]) -> str:
    """The name a token is tied to: the scenario's ``__qualname__`` (not its module,
    whose import name depends on how pytest was started)."""
    target = getattr(scenario, "func", scenario)  # functools.partial
    return str(getattr(target, "__qualname__", type(target).__qualname__))


def scenario_tag(scenario: Callable[..., object]) -> int:
    return zlib.crc32(scenario_name(scenario).encode()) & 0xFFFF


def _varint(value: int, out: bytearray) -> None:
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if position >= len(data):
            raise ReplayTokenError("replay token is truncated (a number runs past its end)")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise ReplayTokenError("replay token is malformed (a number is too long)")


def encode(choices: Sequence[int], tag: int, granularity: str = "sync") -> str:
    """The token for ``choices`` made by the scenario with ``tag``."""
    runs: list[tuple[int, int]] = []
    for choice in choices:
        if runs and runs[-1][0] == choice:
            runs[-1] = (choice, runs[-1][1] + 1)
        else:
            runs.append((choice, 1))
    payload = bytearray([GRANULARITIES.index(granularity)])
    _varint(tag, payload)
    _varint(len(runs), payload)
    for thread, count in runs:
        _varint(thread, payload)
        _varint(count, payload)
    payload += zlib.crc32(payload).to_bytes(4, "big")
    text = base64.urlsafe_b64encode(bytes(payload)).decode("ascii").rstrip("=")
    return f"{PREFIX}{VERSION}.{text}"


def decode(token: str) -> Schedule:
    """Parse a token; every way it can be wrong is a :class:`ReplayTokenError`."""
    if not isinstance(token, str):
        raise ReplayTokenError(f"replay token must be a str, got {type(token).__name__}")
    token = "".join(token.split())  # tolerate wrapping by terminals and CI logs
    head, dot, body = token.partition(".")
    if not head.startswith(PREFIX) or not dot or not head[len(PREFIX) :].isdigit():
        raise ReplayTokenError(
            f"not a pytest-concurrency replay token: {token[:20]!r} (tokens look like 'pc1.AbC...')"
        )
    version = int(head[len(PREFIX) :])
    if version != VERSION:
        raise ReplayTokenError(
            f"replay token version {version} is not supported by this pytest-concurrency "
            f"(it reads version {VERSION}); replay it with the version that printed it"
        )
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ReplayTokenError("replay token is malformed (not base64url)") from None
    if len(data) < 5:
        raise ReplayTokenError("replay token is truncated")
    payload, checksum = data[:-4], data[-4:]
    if zlib.crc32(payload).to_bytes(4, "big") != checksum:
        raise ReplayTokenError("replay token is corrupted or truncated (checksum mismatch)")
    if payload[0] >= len(GRANULARITIES):
        raise ReplayTokenError(
            f"replay token needs granularity #{payload[0]}, which this version cannot replay"
        )
    granularity = GRANULARITIES[payload[0]]
    tag, position = _read_varint(payload, 1)
    run_count, position = _read_varint(payload, position)
    choices: list[int] = []
    for _ in range(run_count):
        thread, position = _read_varint(payload, position)
        count, position = _read_varint(payload, position)
        if count == 0 or len(choices) + count > MAX_CHOICES:
            raise ReplayTokenError("replay token is malformed (impossible run length)")
        choices.extend([thread] * count)
    if position != len(payload):
        raise ReplayTokenError("replay token is malformed (trailing bytes)")
    return Schedule(tuple(choices), tag, granularity)
