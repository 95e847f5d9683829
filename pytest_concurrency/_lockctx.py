"""``with lock:`` for every stand-in lock: one definition of enter-acquires, exit-releases.

The controlled world's locks, semaphores and conditions and the fake clock's
virtual locks all behave like ``threading``'s in a ``with`` statement; they
inherit that here instead of each spelling it out.
"""

from __future__ import annotations

from types import TracebackType


class AcquireReleaseContext:
    """Mixin: ``__enter__`` calls ``self.acquire()``, ``__exit__`` calls ``self.release()``."""

    __slots__ = ()

    def acquire(self) -> bool:  # pragma: no cover - every user defines its own
        raise NotImplementedError

    def release(self) -> None:  # pragma: no cover - every user defines its own
        raise NotImplementedError

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
