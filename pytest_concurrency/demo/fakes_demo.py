"""Demo: a vocabulary-cache stampede, made certain with gates.

Four request threads ask a cold cache for the same vocabulary. Two gates turn
"they probably overlap" into "they do": ``after_miss`` holds every thread just
after it found the cache empty until all four have, and the ``GatedEncoder``
holds the builders inside ``encode`` until the expected number are there. Then
the count of ``encode`` calls says how many builds the cache let through:

- no lock: all four build (the bug);
- a per-key lock without a second look: still four, one after another;
- a per-key lock with a re-check inside it (the fix): exactly one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pytest_concurrency import _realtime
from pytest_concurrency.demo import Outcome
from pytest_concurrency.fakes import GatedEncoder, GatedFake

TITLE = "Gated fakes: a cache stampede made visible"

_CALLERS = 4
_KEY = "clip-vit-b32"
_VOCAB = ("cat", "dog", "beach", "sunset", "mountain")
_TIMEOUT = 2.0  # real seconds; each wait below normally ends in microseconds

Vectors = list[list[float]]


class NaiveVocabCache:
    """The cache before the fix: check, build, store; nothing stops a second builder."""

    def __init__(self, encoder: GatedEncoder, after_miss: Callable[[], object]) -> None:
        self._encoder = encoder
        self._after_miss = after_miss  # a hook the demo gates; a no-op in real code
        self._store: dict[str, Vectors] = {}

    def get(self, key: str) -> Vectors:
        cached = self._store.get(key)
        if cached is not None:
            return cached
        self._after_miss()
        return self._build(key)

    def _build(self, key: str) -> Vectors:
        vectors = self._encoder.encode(_VOCAB)
        self._store[key] = vectors
        return vectors


class LockedVocabCache(NaiveVocabCache):
    """A per-key lock around the build, but no re-check: the stampede only queues up."""

    def __init__(self, encoder: GatedEncoder, after_miss: Callable[[], object]) -> None:
        super().__init__(encoder, after_miss)
        self._registry_lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def _lock_for(self, key: str) -> threading.Lock:
        with self._registry_lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _build(self, key: str) -> Vectors:
        with self._lock_for(key):
            return super()._build(key)


class SingleFlightVocabCache(LockedVocabCache):
    """The fix: a per-key lock, and a second look at the cache once inside it."""

    def _build(self, key: str) -> Vectors:
        with self._lock_for(key):
            cached = self._store.get(key)
            if cached is not None:  # a builder finished while we queued
                return cached
            return NaiveVocabCache._build(self, key)


def _stampede(
    cache_type: type[NaiveVocabCache], builders_inside: int, expected_calls: int, name: str
) -> Outcome:
    """Run four cold callers; open the encoder once ``builders_inside`` are in it."""
    started = _realtime.perf_counter()
    encoder = GatedEncoder(name="vocab", block_timeout=_TIMEOUT)
    after_miss = GatedFake(name="after-miss", block_timeout=_TIMEOUT)
    cache = cache_type(encoder, after_miss)
    results: list[Vectors] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            results.append(cache.get(_KEY))
        except BaseException as error:  # reported in the row, never lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=request, name=f"request-{i}") for i in range(_CALLERS)]
    for thread in threads:
        thread.start()
    try:
        all_missed = after_miss.wait_for_callers(_CALLERS, timeout=_TIMEOUT)
        after_miss.open()
        builders_in = encoder.wait_for_callers(builders_inside, timeout=_TIMEOUT)
    finally:
        after_miss.open()
        encoder.open()
        for thread in threads:
            thread.join(_TIMEOUT)
    seconds = _realtime.perf_counter() - started

    expected_vectors = [encoder.vector(text) for text in _VOCAB]
    problems = [f"{type(error).__name__}: {error}" for error in errors]
    if not all_missed:
        problems.append(f"only {after_miss.calls} of {_CALLERS} callers found the cache cold")
    if not builders_in:
        problems.append(f"only {encoder.in_flight} callers reached encode() together")
    if any(thread.is_alive() for thread in threads):
        problems.append("a request thread did not finish")
    if len(results) != _CALLERS or any(result != expected_vectors for result in results):
        problems.append("not every caller got the built vectors")
    calls = encoder.encode_calls
    plural = "call" if calls == 1 else "calls"
    return Outcome(
        name=name,
        expected=f"{expected_calls} encode {'call' if expected_calls == 1 else 'calls'}",
        observed=f"{calls} encode {plural}",
        ok=calls == expected_calls and not problems,
        seconds=seconds,
        detail="; ".join(problems),
    )


def run() -> list[Outcome]:
    """The three caches under the same deterministic four-caller stampede."""
    return [
        _stampede(NaiveVocabCache, _CALLERS, _CALLERS, "cold cache, no lock (the bug)"),
        _stampede(LockedVocabCache, 1, _CALLERS, "per-key lock, no re-check"),
        _stampede(SingleFlightVocabCache, 1, 1, "per-key lock + re-check (the fix)"),
    ]
