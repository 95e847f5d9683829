"""FileCache with seed 000's disk-cache bugs put back."""

from __future__ import annotations

import os
from pathlib import Path

from reference_impl import FileCache
from reference_impl._files import encode_record, exclusive_file_lock, read_record, write_atomically

from . import mutant


class SharedTemporaryFile(FileCache):
    """Seed 000: every writer goes through one fixed temporary name, truncating the others'."""

    def _build_under_file_lock(self, key: str, path: Path) -> bytes:
        with exclusive_file_lock(path.with_suffix(".lock")):
            payload = read_record(path, key)
            if payload is not None:
                return payload
            built = self._build(key)
            tmp = path.parent / ".tmp"  # the bug: one name for every writer
            with open(tmp, "wb") as file:
                file.write(encode_record(key, built))
            os.replace(tmp, path)
            return built


class LossyNames(FileCache):
    """Seed 000 mapped '/' and ':' to '_': 'a/b', 'a:b' and 'a_b' share one file."""

    def path_for(self, key: str) -> Path:
        return self._directory / (key.replace("/", "_").replace(":", "_") + ".cache")


class NoCrossProcessLock(FileCache):
    """Only the threads of one process are coordinated: two workers both build."""

    def _build_under_file_lock(self, key: str, path: Path) -> bytes:
        payload = read_record(path, key)  # the bug: no file lock around the re-read and build
        if payload is not None:
            return payload
        built = self._build(key)
        write_atomically(path, encode_record(key, built))
        return built


MUTANTS = (
    mutant(
        SharedTemporaryFile,
        "seed 000 original",
        "one fixed temporary file name shared by every writer",
        "test_writers_never_share_a_temporary_file",
    ),
    mutant(
        LossyNames,
        "seed 000 original",
        "a non-injective key-to-file mapping: a/b and a:b collide",
        "test_distinct_keys_never_share_an_entry",
    ),
    mutant(
        NoCrossProcessLock,
        "seed 000 review",
        "no file lock: processes sharing the directory build the same key",
        "test_processes_sharing_the_directory_build_once",
    ),
)
