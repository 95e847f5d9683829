"""The file-system half of ``FileCache``: names, records, atomic writes, file locks.

Each function fixes one defect of a vocabulary cache's original disk layer:

- :func:`entry_name` maps a key to a file name *injectively*. The original
  turned ``/`` and ``:`` into ``_``, so ``"a/b"`` and ``"a:b"`` shared one
  file. Here every byte outside ``[a-z0-9_-]`` -- upper-case letters included,
  so names stay distinct on case-insensitive file systems -- becomes ``%xx``
  with lower-case hex. The escaping is reversible, hence injective. Names that
  would be too long for a file system become ``h_`` plus the key's SHA-256; the
  two namespaces (``k_`` and ``h_``) cannot meet, and because a hash can in
  theory collide, the full key is stored in the record and checked on every
  read.
- :func:`write_atomically` writes through a temporary file that is unique per
  writer (``tempfile.mkstemp`` in the target directory; the original used one
  fixed ``.tmp`` name that two writers truncated under each other), fsyncs it,
  ``os.replace``-s it over the target and fsyncs the directory, so a reader
  sees the old file or the whole new one, even after a crash.
- :func:`exclusive_file_lock` serialises builders across processes (uvicorn and
  xdist workers share one cache directory) with ``fcntl.flock`` on a per-key
  lock file. The kernel drops the lock when its holder dies, so a crashed
  builder never blocks the others. Without ``fcntl`` (Windows) the lock is a
  no-op and only the in-process single flight remains.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

_SAFE_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_-")
#: longest escaped stem; leaves room for a suffix and mkstemp's random part
#: within the usual 255-byte limit on a file name
MAX_ESCAPED_LENGTH = 180
_MAGIC = b"reference-impl-file-cache 1\n"


def entry_name(key: str) -> str:
    """Return the file-name stem for ``key``: distinct keys give distinct stems."""
    raw = key.encode("utf-8", errors="surrogatepass")
    escaped = "".join(chr(b) if b in _SAFE_BYTES else f"%{b:02x}" for b in raw)
    if len(escaped) <= MAX_ESCAPED_LENGTH:
        return "k_" + escaped
    return "h_" + hashlib.sha256(raw).hexdigest()


def encode_record(key: str, payload: bytes) -> bytes:
    """Return the bytes stored on disk: a magic line, the key (length-prefixed), the payload."""
    raw_key = key.encode("utf-8", errors="surrogatepass")
    return _MAGIC + str(len(raw_key)).encode("ascii") + b"\n" + raw_key + payload


def decode_record(key: str, record: bytes) -> bytes | None:
    """Return the payload if ``record`` is a well-formed record *for* ``key``, else None."""
    if not record.startswith(_MAGIC):
        return None
    length_end = record.find(b"\n", len(_MAGIC))
    length_text = record[len(_MAGIC) : length_end]
    if length_end < 0 or not length_text.isdigit():
        return None
    key_start = length_end + 1
    key_end = key_start + int(length_text)
    if record[key_start:key_end] != key.encode("utf-8", errors="surrogatepass"):
        return None
    return record[key_end:]


def read_record(path: Path, key: str) -> bytes | None:
    """Return the cached payload for ``key`` at ``path``, or None if absent or not ours."""
    try:
        record = path.read_bytes()
    except FileNotFoundError:
        return None
    return decode_record(key, record)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the whole new file."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX only: Windows cannot open a directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only

    def _lock_exclusively(fd: int) -> None:
        """No cross-process lock without fcntl: only the in-process single flight holds."""

else:
    import fcntl

    def _lock_exclusively(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)


@contextlib.contextmanager
def exclusive_file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` body.

    Closing the descriptor releases the lock, on every exit path and when the
    process dies. Lock files are never deleted: unlinking a lock file while
    another process waits on it would let a third process lock a new inode.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock_exclusively(fd)
        yield
    finally:
        os.close(fd)
