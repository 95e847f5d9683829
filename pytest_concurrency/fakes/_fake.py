"""GatedFake: a ``Mock``-like callable whose callers wait at a gate the test controls.

A race test needs callers to *overlap*: N threads inside the loader at once, or
a waiter blocked while the test mutates state. Sleeps only make that likely;
a gate makes it certain. The fake holds each caller until the test opens the
gate (or releases exactly ``n`` callers), and ``wait_for_callers`` tells the test
when the overlap it wants exists.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any
from unittest.mock import DEFAULT, call

from pytest_concurrency import _realtime
from pytest_concurrency.fakes._gate import Gate
from pytest_concurrency.fakes._gated import CallLog, GateControls, gate_label

if TYPE_CHECKING:
    from unittest.mock import _Call


def _is_exception(value: Any) -> bool:
    return isinstance(value, BaseException) or (
        isinstance(value, type) and issubclass(value, BaseException)
    )


class GatedFake(GateControls):
    """A callable (and awaitable via :meth:`acall`) that records calls and blocks at a gate.

    Each call is recorded when the caller *arrives*, then waits until the gate
    lets it through, then produces its result as ``unittest.mock`` would:

    - ``side_effect`` an exception class or instance: it is raised;
    - ``side_effect`` an iterable: each call takes the next item (an exception
      item is raised; exhaustion raises ``StopIteration``);
    - ``side_effect`` a callable: it is called with the same arguments and its
      result returned, unless it returns ``unittest.mock.DEFAULT``;
    - otherwise ``return_value``.

    Args:
        return_value: what a call returns when ``side_effect`` does not decide.
        side_effect: see above; ``None`` for none.
        name: shown in messages and teardown reports.
        opened: start with the gate open. By default it is closed: a caller
            waits until :meth:`open` or :meth:`release`.
        block_timeout: real seconds a caller waits before ``TimeoutError``.

    Example:
        >>> fake = GatedFake(return_value=42, opened=True)
        >>> fake("key")
        42
        >>> fake.calls, fake.call_args_list
        (1, [call('key')])
    """

    def __init__(
        self,
        return_value: Any = None,
        side_effect: Any = None,
        *,
        name: str | None = None,
        opened: bool = False,
        block_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.gate = Gate(gate_label("GatedFake", name), opened=opened, block_timeout=block_timeout)
        self.return_value = return_value
        self._effect_lock = _realtime.allocate_lock()
        self._side_effect: Any = None
        self.side_effect = side_effect
        self._log = CallLog()

    # -- configuration ---------------------------------------------------------

    @property
    def side_effect(self) -> Any:
        """The effect of a call (see the class docstring); an iterable is kept as its iterator."""
        return self._side_effect

    @side_effect.setter
    def side_effect(self, value: Any) -> None:
        if value is None or _is_exception(value) or callable(value):
            self._side_effect = value
            return
        try:
            self._side_effect = iter(value)
        except TypeError:
            raise TypeError(
                "side_effect must be None, an exception class or instance, an iterable "
                f"or a callable, got {value!r}"
            ) from None

    # -- calling -----------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Record the call, wait at the gate, then return or raise as configured."""
        __tracebackhide__ = True  # a timeout at the gate points at the caller, not at us
        self._log.record(call(*args, **kwargs))
        with self.gate.passage():
            return self._effect(args, kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """As calling the fake, but waits without blocking the event loop.

        A coroutine-function ``side_effect`` is awaited. An exhausted iterable
        raises ``StopAsyncIteration`` (a coroutine may not raise
        ``StopIteration``), as ``unittest.mock.AsyncMock`` does.
        """
        __tracebackhide__ = True  # a timeout at the gate points at the caller, not at us
        self._log.record(call(*args, **kwargs))
        async with self.gate.apassage():
            effect = self._side_effect
            if inspect.iscoroutinefunction(effect):
                result = await effect(*args, **kwargs)
                return self.return_value if result is DEFAULT else result
            try:
                return self._effect(args, kwargs)
            except StopIteration:
                raise StopAsyncIteration(f"{self.gate.label}: side_effect is exhausted") from None

    def _effect(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        effect = self._side_effect
        if effect is None:
            return self.return_value
        if _is_exception(effect):
            raise effect
        if callable(effect):
            result = effect(*args, **kwargs)
        else:
            with self._effect_lock:  # a generator may not be advanced by two threads at once
                result = next(effect)
            if _is_exception(result):
                raise result
        return self.return_value if result is DEFAULT else result

    # -- what happened -----------------------------------------------------------

    @property
    def calls(self) -> int:
        """How many calls arrived (including those still waiting at the gate)."""
        return len(self._log)

    @property
    def call_args_list(self) -> list[_Call]:
        """Every call's arguments as ``unittest.mock.call`` objects, in arrival order."""
        return self._log.snapshot()

    @property
    def call_args(self) -> _Call | None:
        """The arguments of the latest arrival, or None before any call."""
        calls = self._log.snapshot()
        return calls[-1] if calls else None

    def reset_calls(self) -> None:
        """Forget the recorded calls; the gate and its counters are untouched."""
        self._log.clear()

    def assert_called_once(self) -> None:
        """Fail unless exactly one call arrived."""
        if self.calls != 1:
            raise AssertionError(f"expected {self.gate.label} to be called once, got {self.calls}")

    def assert_called_once_with(self, *args: Any, **kwargs: Any) -> None:
        """Fail unless exactly one call arrived, with these arguments."""
        self.assert_called_once()
        expected, actual = call(*args, **kwargs), self._log.snapshot()[0]
        if actual != expected:
            raise AssertionError(f"{self.gate.label}: expected {expected}, got {actual}")

    def __repr__(self) -> str:
        return f"<{self.gate.label}: {self.gate.summary()}, {self.calls} calls>"
