"""Install stand-ins for globals and always put the originals back.

Every feature that swaps a global (``time.sleep``, ``threading.Lock``, a
module's captured ``monotonic``) goes through :class:`Patcher`, so that
restoring is one idea implemented once: in reverse order, every entry, even
when an earlier restore raised, even on ``KeyboardInterrupt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

_MISSING: Any = object()


@dataclass(frozen=True)
class _Entry:
    target: Any
    name: str
    original: Any


class Patcher:
    """Records every ``setattr`` it makes and undoes all of them on ``restore``.

    Usable as a context manager. ``restore`` is idempotent, so a fixture's
    finalizer and an ``atexit`` safety net may both call it.
    """

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def __enter__(self) -> Patcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()

    @property
    def active(self) -> bool:
        """True while at least one patch is installed."""
        return bool(self._entries)

    def setattr(self, target: Any, name: str, value: Any) -> None:
        """Set ``target.name = value``, remembering what was there (or that nothing was)."""
        original = target.__dict__.get(name, _MISSING) if hasattr(target, "__dict__") else _MISSING
        if original is _MISSING:
            original = getattr(target, name, _MISSING)
            # an inherited attribute: restoring means deleting our own
            if original is not _MISSING and name not in getattr(target, "__dict__", {}):
                original = _MISSING
        self._entries.append(_Entry(target, name, original))
        setattr(target, name, value)

    def restore(self) -> None:
        """Undo every patch, newest first; re-raise the first failure after trying them all."""
        first_error: BaseException | None = None
        while self._entries:
            entry = self._entries.pop()
            try:
                if entry.original is _MISSING:
                    delattr(entry.target, entry.name)
                else:
                    setattr(entry.target, entry.name, entry.original)
            except BaseException as error:  # keep restoring the rest
                if first_error is None:
                    first_error = error
        if first_error is not None:
            raise first_error
