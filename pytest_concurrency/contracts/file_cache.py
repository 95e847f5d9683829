"""``FileCacheContract``: a directory of built values, built once across threads and processes.

The disk layer of a vocabulary cache, as first fixed for its cache stampede,
wrote every entry through one fixed ``.tmp`` name that concurrent writers
truncated under each other, turned ``/`` and ``:`` into ``_`` so that ``a/b``
and ``a:b`` shared a file, and coordinated only the threads of one process
although uvicorn and xdist workers share the directory.
``BuildOnceCacheContract`` and ``SingleFlightContract`` cover the in-memory
side; this one adds what only a disk cache can get wrong, since "no torn or
shared temporary file" is a property of the files.

How the file system is brought under the explorer, for the duration of an
exploration (patched process-wide and always restored):

- ``os.replace`` and ``os.rename`` make a scheduling point first, so another
  writer may run between writing a temporary file and moving it into place;
- ``fcntl.flock`` and ``fcntl.lockf`` taking a blocking lock poll with the
  non-blocking form and a virtual ``time.sleep``, so a thread waiting for
  another "process"'s file lock is a blocked thread the scheduler sees.

Two cache objects on one directory stand for two processes. The subject must
call these functions through their modules when it runs (``os.replace(...)``,
``fcntl.flock(...)``), as the standard library's own helpers do.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pytest

from pytest_concurrency._patching import Patcher
from pytest_concurrency.contracts._base import Contract, abstract_subject
from pytest_concurrency.contracts._support import outcome_of, start
from pytest_concurrency.world.api import checkpoint

__all__ = ["FileCacheContract"]

#: keys that a lossy name mapping (``/`` or ``:`` to ``_``, case folding) sends to one file
CLASHING_KEYS = ("a/b", "a:b", "a_b", "A_b", "a%2fb", "../outside")


class FileCacheLike(Protocol):
    """What ``FileCacheContract.make_subject`` returns."""

    def get(self, key: str) -> bytes: ...


class _Builds:
    """The ``build`` handed to the subject: counts calls per key, yields while building."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, key: str) -> bytes:
        self.calls.append(key)
        checkpoint("building")
        return f"bytes built for {key!r}".encode()


@contextmanager
def _workspace() -> Iterator[Path]:
    """A fresh cache directory inside a fresh parent (so escapes from it can be seen)."""
    parent = Path(tempfile.mkdtemp(prefix="pc-file-cache-"))
    try:
        yield parent / "cache"
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@contextmanager
def _file_system_under_explorer() -> Iterator[None]:
    """Scheduling points at renames, and file locks that wait where the scheduler sees."""
    with Patcher() as patcher:
        for name in ("replace", "rename"):
            patcher.setattr(os, name, _with_checkpoint(getattr(os, name), f"os.{name}"))
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows has no fcntl
            yield
            return
        for name in ("flock", "lockf"):
            patcher.setattr(fcntl, name, _polling_lock(getattr(fcntl, name), fcntl))
        yield


def _with_checkpoint(real: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        checkpoint(name)
        return real(*args, **kwargs)

    return call


def _polling_lock(real: Callable[..., Any], fcntl: Any) -> Callable[..., Any]:
    def lock(fd: Any, operation: int, *args: Any) -> Any:
        if operation & (fcntl.LOCK_NB | fcntl.LOCK_UN):
            return real(fd, operation, *args)
        while True:
            try:
                return real(fd, operation | fcntl.LOCK_NB, *args)
            except (BlockingIOError, PermissionError):
                time.sleep(0.01)  # virtual inside a run: the holder runs meanwhile

    return lock


class FileCacheContract(Contract):
    """Properties of a file cache: ``get(key) -> bytes`` built once, stored atomically.

    Override ``make_subject(self, directory, build)`` to return a new cache
    storing entries in ``directory`` (a ``pathlib.Path`` that may not exist
    yet) and calling ``build(key) -> bytes`` for keys not stored. Set
    ``cross_process = False`` if your cache does not lock across processes
    with ``fcntl`` (the property is then skipped).
    """

    __test__ = False
    subject_signature = "make_subject(self, directory, build)"
    subject_description = "a new file cache over directory with get(key) -> bytes"
    subject_methods = ("get",)

    cross_process: ClassVar[bool] = True

    @abstract_subject
    def make_subject(self, directory: Path, build: Callable[[str], bytes]) -> Any:
        raise NotImplementedError(self._override_message())

    def _cache(self, directory: Path, builds: _Builds) -> FileCacheLike:
        cache: FileCacheLike = self.subject(directory, builds)
        return cache

    def _assert_stored(self, directory: Path, keys: tuple[str, ...], when: str) -> None:
        """A new cache object on ``directory`` (another process) serves every key unbuilt."""
        builds = _Builds()
        fresh = self._cache(directory, builds)
        got = {key: outcome_of(functools.partial(fresh.get, key)) for key in keys}
        wrong = {k: v for k, v in got.items() if v != f"bytes built for {k!r}".encode()}
        assert (wrong, builds.calls) == ({}, []), (
            f"{when}, another cache object on the same directory read {wrong or 'every key'} "
            f"and had to build {builds.calls or 'nothing'}: each key's own bytes must be on "
            "disk, in a file no other key writes"
        )

    def test_distinct_keys_never_share_an_entry(self) -> None:
        """Keys a lossy mapping would merge (a/b, a:b, ...) keep their own entries, inside the
        directory."""
        with _workspace() as directory:
            builds = _Builds()
            cache = self._cache(directory, builds)
            got = {key: outcome_of(functools.partial(cache.get, key)) for key in CLASHING_KEYS}
            wrong = {k: v for k, v in got.items() if v != f"bytes built for {k!r}".encode()}
            assert not wrong, f"get() returned another key's bytes (or failed) for {wrong}"
            self._assert_stored(directory, CLASHING_KEYS, "after building each key once")
            strays = sorted(p.name for p in directory.parent.iterdir() if p != directory)
            assert not strays, f"files {strays} were written outside the cache directory"

    def test_writers_never_share_a_temporary_file(self) -> None:
        """Two keys written at once never write through one temporary file."""

        def scenario() -> None:
            with _workspace() as directory:
                cache = self._cache(directory, _Builds())
                other = start("writer-2", lambda: cache.get("key-2"))
                mine = outcome_of(lambda: cache.get("key-1"))
                theirs = other.result()
                assert (type(mine), type(theirs)) == (bytes, bytes), (
                    f"two writers of different keys got {mine!r} and {theirs!r}: a temporary "
                    "file that both wrote through was moved away under one of them"
                )
                self._assert_stored(
                    directory, ("key-1", "key-2"), "after two keys were written at once"
                )

        with _file_system_under_explorer():
            self.explore(scenario, bounded=True)  # too many classes for the reduction today

    def test_overlapping_callers_build_once(self) -> None:
        """Callers of one key in one process share one build."""

        def scenario() -> None:
            with _workspace() as directory:
                builds = _Builds()
                cache = self._cache(directory, builds)
                other = start("caller-2", lambda: cache.get("vocab"))
                outcome_of(lambda: cache.get("vocab"))
                other.result()
                assert builds.calls == ["vocab"], (
                    f"build ran {len(builds.calls)} times for one key while two callers overlapped"
                )

        with _file_system_under_explorer():
            self.explore(scenario, bounded=True)  # too many classes for the reduction today

    def test_processes_sharing_the_directory_build_once(self) -> None:
        """Two processes (two cache objects) on one directory build a key once."""
        if not self.cross_process or os.name != "posix":
            pytest.skip("the cache does not lock across processes with fcntl")

        def scenario() -> None:
            with _workspace() as directory:
                builds = _Builds()
                worker_1, worker_2 = self._cache(directory, builds), self._cache(directory, builds)
                other = start("process-2", lambda: worker_2.get("vocab"))
                mine = outcome_of(lambda: worker_1.get("vocab"))
                theirs = other.result()
                assert (builds.calls, mine == theirs) == (["vocab"], True), (
                    f"build ran {len(builds.calls)} times for one key in two processes sharing the "
                    f"directory (they got {mine!r} and {theirs!r}); a file lock must make the "
                    "second wait and read the first one's entry"
                )

        with _file_system_under_explorer():
            self.explore(scenario, bounded=True)  # too many classes for the reduction today
