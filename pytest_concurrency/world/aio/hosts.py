"""Async test plugins and the explorer: who runs an ``async def`` interleavings test.

pytest-asyncio and anyio's pytest plugin each run an ``async def`` test once,
on an event loop of their own. An ``@pytest.mark.interleavings`` test body is
a scenario instead: the explorer runs it once per schedule, each time on a
fresh controlled loop, where every ready task step is a choice. Left to the
plugin, the body would run once on an uncontrolled loop and pass without a
single interleaving explored, so the pytest wiring takes the body back and
explores it exactly as it does when no async plugin is installed.

What cannot move to the controlled loop is refused before anything runs,
with what to do instead (these functions return that message, or None):

- an async fixture: the plugin runs it on its own loop, so what it returns
  (a connection, a queue, a task) belongs to that loop and not to the runs;
- an anyio backend other than plain asyncio: trio has no loop the explorer
  controls, and backend options (uvloop, a loop factory, debug) would be
  silently replaced by the controlled loop.

Pure functions of names and values: the wiring collects them from the test
item, this module decides.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

__all__ = ["is_async_function", "unexplorable_backend", "unexplorable_fixtures"]


def is_async_function(func: object) -> bool:
    """True for a coroutine or async generator function (or a bound method of one)."""
    target = getattr(func, "__func__", func)
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def unexplorable_fixtures(test: str, host: str, fixtures: Sequence[str]) -> str | None:
    """Why ``test`` (run by the ``host`` plugin) cannot be explored with async ``fixtures``."""
    if not fixtures:
        return None
    names = ", ".join(fixtures)
    return (
        f"{test}: @pytest.mark.interleavings runs this async test body once per schedule on "
        f"the explorer's controlled event loop, but its async fixture(s) {names} run on "
        f"{host}'s event loop, so what they return is bound to a loop the runs do not use. "
        "Build that state inside the test body (it runs afresh for every schedule) or make "
        "the fixture(s) synchronous."
    )


def unexplorable_backend(test: str, backend: object) -> str | None:
    """Why ``test`` cannot be explored on the anyio ``backend`` (a name or (name, options))."""
    name, options = (backend, {}) if isinstance(backend, str) else _pair(backend)
    if name == "asyncio" and not options:
        return None
    what = f"the anyio backend {name!r}"
    if name == "asyncio":
        what = f"anyio backend options {options!r}"
    return (
        f"{test}: @pytest.mark.interleavings runs async test bodies on the explorer's "
        f"controlled asyncio event loop, so {what} cannot be explored. Run this test on the "
        'plain asyncio backend (an anyio_backend fixture returning "asyncio", in the test\'s '
        "module or conftest.py), or drop the interleavings marker for the other backends."
    )


def _pair(backend: object) -> tuple[object, object]:
    if isinstance(backend, tuple) and len(backend) == 2:
        return backend[0], backend[1]
    return backend, {}
