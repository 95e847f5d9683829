"""FileCache (seed 000's disk cache done right): names, atomic writes, processes."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from ref_helpers import TIMEOUT, Spawned, WaitObserver

from reference_impl import FileCache
from reference_impl import _files as files

SpawnFn = Callable[..., Spawned]


class CountingBuild:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.keys: list[str] = []
        self.entered = threading.Event()
        self.gate = gate

    def __call__(self, key: str) -> bytes:
        self.keys.append(key)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(TIMEOUT)
        return f"built:{key}".encode()


def decode_stem(stem: str) -> str:
    """Invert the escaping (written independently of the library): proves injectivity."""
    assert stem.startswith("k_")
    raw, body, i = bytearray(), stem[2:], 0
    while i < len(body):
        if body[i] == "%":
            raw.append(int(body[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.append(ord(body[i]))
            i += 1
    return raw.decode("utf-8", errors="surrogatepass")


TRICKY_KEYS = [
    "a/b",
    "a:b",
    "a_b",
    "A/b",
    "a%2fb",
    "a%2Fb",
    "",
    ".",
    "..",
    "con",
    "CON",
    "nul.txt",
    "tab\tnewline\n",
    "snowman \u2603",
    "lone surrogate \udc80",
    "x" * 60,
    "x" * 61,
    "y" * 400,
    "y" * 401,
]


def test_key_to_name_mapping_is_injective_and_safe() -> None:
    stems = [files.entry_name(key) for key in TRICKY_KEYS]
    assert len(set(stems)) == len(stems)
    assert len({stem.casefold() for stem in stems}) == len(stems)  # case-insensitive FS too
    for key, stem in zip(TRICKY_KEYS, stems, strict=True):
        assert stem not in ("", ".", "..")
        assert "/" not in stem and "\\" not in stem and "." not in stem
        assert len(stem) + len(".xxxxxxxx.tmp") <= 255
        if stem.startswith("k_"):
            assert decode_stem(stem) == key
        else:
            assert stem.startswith("h_") and len(stem) == 66


def test_seed_000_colliding_keys_get_separate_files(tmp_path: Path) -> None:
    build = CountingBuild()
    cache = FileCache(tmp_path, build)
    assert cache.get("a/b") == b"built:a/b"
    assert cache.get("a:b") == b"built:a:b"
    assert cache.path_for("a/b") != cache.path_for("a:b")
    assert cache.get("a/b") == b"built:a/b"
    assert build.keys == ["a/b", "a:b"]


def test_built_bytes_persist_for_a_new_cache_object(tmp_path: Path) -> None:
    first = CountingBuild()
    assert FileCache(tmp_path, first).get("k") == b"built:k"
    second = CountingBuild()
    assert FileCache(tmp_path, second).get("k") == b"built:k"
    assert second.keys == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k_k.cache", "k_k.lock"]


def test_a_record_for_another_key_is_never_returned(tmp_path: Path) -> None:
    """A hashed name could in theory collide: the stored key is checked on read."""
    build = CountingBuild()
    cache = FileCache(tmp_path, build)
    long_key = "z" * 500
    cache.path_for(long_key).write_bytes(files.encode_record("someone else", b"foreign"))
    assert cache.get(long_key) == f"built:{long_key}".encode()
    assert files.read_record(cache.path_for(long_key), long_key) == f"built:{long_key}".encode()


def test_a_torn_or_foreign_file_is_rebuilt(tmp_path: Path) -> None:
    build = CountingBuild()
    cache = FileCache(tmp_path, build)
    cache.path_for("k").write_bytes(b"half a reco")
    assert cache.get("k") == b"built:k"
    assert build.keys == ["k"]


def test_concurrent_threads_build_once(
    tmp_path: Path, spawn: SpawnFn, observe_events: WaitObserver
) -> None:
    build = CountingBuild(threading.Event())
    cache = FileCache(tmp_path, build)
    threads = [spawn(cache.get, "vocab") for _ in range(4)]
    assert build.entered.wait(TIMEOUT)
    observe_events.wait_for_waiters(3)
    assert build.gate is not None
    build.gate.set()
    assert {t.result() for t in threads} == {b"built:vocab"}
    assert build.keys == ["vocab"]


def test_concurrent_writers_use_separate_temp_files(
    tmp_path: Path, spawn: SpawnFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed 000 wrote a fixed ``.tmp`` name: two writers truncated each other's file."""
    both_writing = threading.Barrier(2)
    real_fsync = os.fsync
    first_fsync = threading.local()

    def fsync_when_both_have_written(fd: int) -> None:
        if not getattr(first_fsync, "done", False):
            first_fsync.done = True
            both_writing.wait(TIMEOUT)  # each has written its whole temp file by now
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_when_both_have_written)
    target = tmp_path / "k_shared.cache"
    payloads = [b"A" * 50_000, b"B" * 70_000]
    writers = [spawn(files.write_atomically, target, payload) for payload in payloads]
    for writer in writers:
        writer.result()
    assert target.read_bytes() in payloads
    assert list(tmp_path.glob("*.tmp")) == []


def test_a_failed_build_leaves_no_file(tmp_path: Path) -> None:
    def fail(key: str) -> bytes:
        raise RuntimeError("encoder crashed")

    cache = FileCache(tmp_path, fail)
    with pytest.raises(RuntimeError, match="encoder crashed"):
        cache.get("k")
    assert not cache.path_for("k").exists()
    assert list(tmp_path.glob("*.tmp")) == []


def test_a_failed_rename_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: str, dst: str) -> None:
        raise OSError("rename refused")

    monkeypatch.setattr(os, "replace", refuse)
    cache = FileCache(tmp_path, CountingBuild())
    with pytest.raises(OSError, match="rename refused"):
        cache.get("k")
    assert not cache.path_for("k").exists()
    assert list(tmp_path.glob("*.tmp")) == []


def test_invalidate_deletes_the_record_and_the_next_get_rebuilds(tmp_path: Path) -> None:
    build = CountingBuild()
    cache = FileCache(tmp_path, build)
    cache.get("k")
    cache.invalidate("k")
    cache.invalidate("never-built")
    assert not cache.path_for("k").exists()
    cache.get("k")
    assert build.keys == ["k", "k"]


def test_file_cache_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="build must be callable"):
        FileCache(tmp_path, b"not callable")  # type: ignore[arg-type]
    cache = FileCache(tmp_path, lambda key: "text, not bytes")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="key must be a str"):
        cache.get(b"bytes key")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="build must return bytes"):
        cache.get("k")
    assert not cache.path_for("k").exists()


# --- across processes -----------------------------------------------------------------

CHILD = """
import sys
from reference_impl import FileCache

def build(key):
    with open(sys.argv[2], "a") as marks:
        marks.write("child\\n")
    print("building", flush=True)
    sys.stdin.readline()  # the parent says when to finish
    return b"from the child"

print(FileCache(sys.argv[1], build).get("shared"), flush=True)
"""


def _read_line(proc: subprocess.Popen[str]) -> str:
    """One line of the child's stdout, bounded in time."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(TIMEOUT), "child process said nothing"
    return proc.stdout.readline().strip()


@pytest.mark.skipif(sys.platform == "win32", reason="cross-process locking needs fcntl")
def test_a_build_in_another_process_is_shared_not_repeated(tmp_path: Path, spawn: SpawnFn) -> None:
    import fcntl

    cache_dir, marks = tmp_path / "cache", tmp_path / "marks"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(cache_dir), str(marks)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert _read_line(child) == "building"
        parent_build = CountingBuild()
        cache = FileCache(cache_dir, parent_build)
        # the child's build holds the key's file lock...
        fd = os.open(cache.path_for("shared").with_suffix(".lock"), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        # ...so a parent get, before or after it blocks, ends with the child's bytes
        waiting = spawn(cache.get, "shared")
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        assert _read_line(child) == "b'from the child'"
        assert waiting.result() == b"from the child"
        assert parent_build.keys == []
        assert marks.read_text() == "child\n"
    finally:
        child.kill()
        child.communicate(timeout=TIMEOUT)
