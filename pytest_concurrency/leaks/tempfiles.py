"""Leaked temp files and directories: created through :mod:`tempfile` during a check, still there.

While a check runs, ``tempfile._mkstemp_inner`` (behind ``mkstemp``,
``NamedTemporaryFile`` and ``TemporaryFile``'s fallback) and
``tempfile.mkdtemp`` (behind ``TemporaryDirectory``) are wrapped through the
checker's :class:`~pytest_concurrency._patching.Patcher` to record each path
with its creation stack; at the end, the recorded paths that still exist are
reported.

The temp directory is deliberately not diffed: under pytest-xdist other
workers create files there at the same time. pytest's own ``tmp_path``
directories are made with ``mkdir``, not through :mod:`tempfile`, and are
never reported. A ``mkdtemp`` imported by name before the check started
(``from tempfile import mkdtemp``) bypasses the wrapper and is not seen.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from functools import wraps
from typing import Any, ClassVar

from pytest_concurrency import _realtime
from pytest_concurrency._patching import Patcher
from pytest_concurrency.leaks import stacks
from pytest_concurrency.leaks.core import Findings, Leak
from pytest_concurrency.leaks.stacks import Frame


class TempfileDetector:
    """Paths made by :mod:`tempfile` during the check that still exist at its end."""

    kind: ClassVar[str] = "tempfiles"

    def __init__(self) -> None:
        #: path -> (is a directory, creation stack), the latest creation of each path
        self._created: dict[str, tuple[bool, tuple[Frame, ...]]] = {}
        self._lock = _realtime.allocate_lock()

    def _record(self, path: str | bytes, is_dir: bool) -> None:
        stack = stacks.capture()
        with self._lock:
            self._created[os.path.abspath(os.fsdecode(path))] = (is_dir, stack)

    def start(self, patcher: Patcher) -> None:
        patcher.setattr(tempfile, "_mkstemp_inner", self._files(tempfile._mkstemp_inner))  # type: ignore[attr-defined]
        patcher.setattr(tempfile, "mkdtemp", self._directories(tempfile.mkdtemp))

    def _files(self, original: Callable[..., tuple[int, Any]]) -> Callable[..., tuple[int, Any]]:
        @wraps(original)
        def _mkstemp_inner(*args: Any, **kwargs: Any) -> tuple[int, Any]:
            fd, path = original(*args, **kwargs)
            self._record(path, is_dir=False)
            return fd, path

        return _mkstemp_inner

    def _directories(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(original)
        def mkdtemp(*args: Any, **kwargs: Any) -> Any:
            path = original(*args, **kwargs)
            self._record(path, is_dir=True)
            return path

        return mkdtemp

    def finish(self, deadline: float) -> Findings:
        with self._lock:
            created = sorted(self._created.items())
        return Findings(
            tuple(
                Leak(self.kind, f"temp {'directory' if is_dir else 'file'} {path}", stack)
                for path, (is_dir, stack) in created
                if os.path.lexists(path)
            )
        )
