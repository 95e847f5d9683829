"""Install stand-ins for globals and always put the originals back.

Every feature that swaps a global (``time.sleep``, ``threading.Lock``, a
module's captured ``monotonic``) goes through :class:`Patcher`, so that
restoring is one idea implemented once: in reverse order, every entry, even
when an earlier restore raised, even on ``KeyboardInterrupt``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

_MISSING: Any = object()
#: the target of an entry that is a callback to run on restore (see :meth:`Patcher.defer`)
_CALLBACK: Any = object()


#: one patch: (target, name, what restoring puts back) -- a plain tuple, since a run
#: makes some thirty of them (a dataclass instance costs several times more to build)
_Entry = tuple[Any, str, Any]


def _original(target: Any, name: str) -> Any:
    """What restoring ``target.name`` must put back, or ``_MISSING`` to delete ours.

    Three cases. The attribute is the target's own (a module global, a class's
    method): put the value back. A class inherits it from a base (patching
    ``MyThread.start`` where ``Thread`` defines it): delete ours so inheritance
    resumes. An instance attribute backed by a data descriptor of its type (a
    function's ``__defaults__``): the descriptor is the only storage, so put
    the value back -- deleting would wipe it.
    """
    own = getattr(target, "__dict__", {})
    if name in own:
        return own[name]
    if isinstance(target, type):
        return _MISSING
    descriptor = getattr(type(target), name, _MISSING)
    if descriptor is not _MISSING and hasattr(descriptor, "__set__"):
        return getattr(target, name)
    return _MISSING


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
        """Set ``target.name = value``, remembering how to undo it."""
        self._entries.append((target, name, _original(target, name)))
        setattr(target, name, value)

    def defer(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` on restore, in its place among the patches (newest first)."""
        self._entries.append((_CALLBACK, "", callback))

    def restore(self) -> None:
        """Undo every patch, newest first; re-raise the first failure after trying them all.

        An entry is forgotten only once it was undone (or failed twice), so an
        interrupt landing anywhere in here loses no entry: a failed attempt is
        tried once more, and a caller may run ``restore`` again to finish it.
        """
        first_error: BaseException | None = None
        while self._entries:
            entry = self._entries[-1]
            try:
                _undo(entry)
            except BaseException as error:  # keep restoring the rest
                if first_error is None:
                    first_error = error
                try:
                    _undo(entry)  # an interrupt may have cut the first try short
                except BaseException:  # failed for good: the first error is raised below
                    pass
            self._entries.pop()
        if first_error is not None:
            raise first_error


def _undo(entry: _Entry) -> None:
    """Put back what ``entry`` replaced; doing it twice is the same as doing it once.

    A deferred callback (:meth:`Patcher.defer`) is called; an interrupt cutting
    it short lets it run again, so such callbacks must be idempotent too.
    """
    target, name, original = entry
    if target is _CALLBACK:
        original()
        return
    if original is not _MISSING:
        setattr(target, name, original)
        return
    try:
        delattr(target, name)
    except AttributeError:
        if name in getattr(target, "__dict__", {}):
            raise  # still there: a real failure
