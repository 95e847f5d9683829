"""The replay token: a schedule as compact, versioned, checksummed text.

``pc1.`` + base64url(payload + crc32(payload)), where the payload is::

    mode (1 byte) | [line header] | scenario tag (varint) | run count (varint) | runs...

The mode byte holds the granularity's index in its low four bits and, in bit
``0x10``, whether timers were schedulable choices (``timers="choice"``); a sync
token made with the default timers has mode 0, as every token before them had.
At line and opcode granularity (indexes 1 and 2) the line header follows: the
Python major and minor version (varints) -- line events and bytecode differ
between versions, so such a token only replays on the version that made it --
and a 16-bit tag of the ``trace=`` selection it was recorded with. Bit ``0x20``
says that asyncio cancellations were injected (``inject_cancel=N``): N follows
as a varint, and a replay injects with the same budget. Each run is
``thread index (varint) | repeat count (varint)``: the threads chosen at the
points where more than one thread was enabled, run-length encoded (a default
continuation repeats the same thread many times). Thread
indexes are creation order, so the token is the same in any process and under
any ``PYTHONHASHSEED``; at sync-point granularity it depends only on the order
of synchronisation operations, not on the Python version's bytecode.

The scenario tag (16 bits of a CRC of the scenario's qualified name) and the
checksum turn a token pasted into the wrong test, truncated or mistyped into a
clear :class:`ReplayTokenError` instead of a confusing replay.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytest_concurrency._public import public
from pytest_concurrency.errors import ConcurrencyError

PREFIX = "pc"
VERSION = 1
#: granularities a token can record, by their index in the mode byte
GRANULARITIES = ("sync", "line", "opcode", "memory")
#: granularities whose tokens carry the line header (Python version, trace= tag)
_TRACED = frozenset({"line", "opcode", "memory"})
#: bit of the mode byte set for timers="choice"
_TIMER_CHOICES = 0x10
#: bit of the mode byte set when asyncio cancellations were injected (budget follows)
_CANCELS = 0x20
#: more choices than any run can make (max_steps is far lower): a crafted token
MAX_CHOICES = 10_000_000
#: the head of a token: ``pc`` and a version number, ASCII digits without a leading
#: zero (``str.isdigit`` would also take Arabic-Indic, fullwidth and superscript digits)
_HEAD = re.compile(re.escape(PREFIX) + r"([1-9][0-9]{0,8})", re.ASCII)
#: what every "malformed" message ends with
SHAPE = (
    "a replay token looks like 'pc1.' followed by letters, digits, '-' and '_', "
    "as printed by a failing exploration"
)


@public
class ReplayTokenError(ConcurrencyError, ValueError):
    """A replay token that is malformed, from another version, or for another scenario."""


def _malformed(reason: str) -> ReplayTokenError:
    return ReplayTokenError(f"{reason}; {SHAPE}")


@dataclass(frozen=True)
class Schedule:
    """A decoded token."""

    choices: tuple[int, ...]
    tag: int
    granularity: str = "sync"
    timers: str = "autojump"
    #: line and opcode granularity only: the (major, minor) Python version it was recorded on
    python: tuple[int, int] | None = None
    #: line and opcode granularity only: the tag of its trace= selection
    trace_tag: int | None = None
    #: asyncio: the CancelledErrors a run may inject (``inject_cancel``)
    inject_cancel: int = 0

    def check_replayable(self, *, granularity: str, timers: str, trace_tag: int | None) -> None:
        """Refuse, clearly, a replay whose settings differ from the ones the token recorded."""
        if granularity != self.granularity:
            raise ReplayTokenError(
                f"this replay token was recorded at granularity={self.granularity!r}, not "
                f"{granularity!r}: replay it with granularity={self.granularity!r}"
            )
        if timers != self.timers:
            raise ReplayTokenError(
                f"this replay token was recorded with timers={self.timers!r}, not {timers!r}: "
                f"replay it with timers={self.timers!r}"
            )
        if self.python is not None:
            here = sys.version_info[0], sys.version_info[1]
            if self.python != here:
                made = ".".join(map(str, self.python))
                raise ReplayTokenError(
                    f"this {self.granularity}-level replay token was recorded on Python {made} "
                    f"and this is Python {here[0]}.{here[1]}: line events and bytecode differ "
                    f"between Python versions, so replay it on Python {made} (sync-level "
                    "tokens replay anywhere)"
                )
        if self.trace_tag is not None and trace_tag != self.trace_tag:
            raise ReplayTokenError(
                f"this {self.granularity}-level replay token was recorded with another trace= "
                "selection: replay it with the same trace= as the exploration that printed it"
            )


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
            raise _malformed("replay token is truncated (a number runs past its end)")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise _malformed("replay token is malformed (a number is too long)")


def encode(
    choices: Sequence[int],
    tag: int,
    granularity: str = "sync",
    *,
    timers: str = "autojump",
    trace_tag: int = 0,
    inject_cancel: int = 0,
    python: tuple[int, int] | None = None,
) -> str:
    """The token for ``choices`` made by the scenario with ``tag``.

    A line- or opcode-level token records ``python`` (default: the running
    version) and ``trace_tag``.
    """
    runs: list[tuple[int, int]] = []
    for choice in choices:
        if runs and runs[-1][0] == choice:
            runs[-1] = (choice, runs[-1][1] + 1)
        else:
            runs.append((choice, 1))
    mode = GRANULARITIES.index(granularity) | (_TIMER_CHOICES if timers == "choice" else 0)
    payload = bytearray([mode | (_CANCELS if inject_cancel else 0)])
    if granularity in _TRACED:
        major, minor = python if python is not None else sys.version_info[:2]
        _varint(major, payload)
        _varint(minor, payload)
        _varint(trace_tag, payload)
    if inject_cancel:
        _varint(inject_cancel, payload)
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
    matched = _HEAD.fullmatch(head)
    if matched is None or not dot:
        raise _malformed(f"not a pytest-concurrency replay token: {token[:20]!r}")
    version = int(matched.group(1))
    if version != VERSION:
        raise ReplayTokenError(
            f"replay token version {version} is not supported by this pytest-concurrency "
            f"(it reads version {VERSION}); replay it with the version that printed it"
        )
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise _malformed("replay token is malformed (not base64url)") from None
    if len(data) < 5:
        raise _malformed("replay token is truncated")
    payload, checksum = data[:-4], data[-4:]
    if zlib.crc32(payload).to_bytes(4, "big") != checksum:
        raise _malformed("replay token is corrupted or truncated (checksum mismatch)")
    mode = payload[0]
    if (mode & 0x0F) >= len(GRANULARITIES) or mode & ~(0x0F | _TIMER_CHOICES | _CANCELS):
        raise ReplayTokenError(
            f"replay token needs mode #{mode}, which this version of pytest-concurrency "
            "cannot replay"
        )
    granularity = GRANULARITIES[mode & 0x0F]
    timers = "choice" if mode & _TIMER_CHOICES else "autojump"
    position = 1
    python: tuple[int, int] | None = None
    trace_tag: int | None = None
    if granularity in _TRACED:
        major, position = _read_varint(payload, position)
        minor, position = _read_varint(payload, position)
        trace_tag, position = _read_varint(payload, position)
        python = (major, minor)
    inject_cancel = 0
    if mode & _CANCELS:
        inject_cancel, position = _read_varint(payload, position)
    tag, position = _read_varint(payload, position)
    run_count, position = _read_varint(payload, position)
    choices: list[int] = []
    for _ in range(run_count):
        thread, position = _read_varint(payload, position)
        count, position = _read_varint(payload, position)
        if count == 0 or len(choices) + count > MAX_CHOICES:
            raise _malformed("replay token is malformed (impossible run length)")
        choices.extend([thread] * count)
    if position != len(payload):
        raise _malformed("replay token is malformed (trailing bytes)")
    return Schedule(tuple(choices), tag, granularity, timers, python, trace_tag, inject_cancel)
