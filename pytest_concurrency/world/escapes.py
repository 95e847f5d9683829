"""Nothing the run does not control runs silently: escapes fail the run, naming what escaped.

A run explores only what it schedules. A thread started past the run's
``Thread.start``, work sent to an executor whose workers were started before
the run, or an event loop the run did not make would execute the scenario's
code unscheduled: a race there is never explored, and the exploration would
report success. So each route is watched for the duration of the run, and
taking it from a controlled thread fails the run with a message that names
the thread, executor or loop and says what to do instead:

* ``threading``'s own start hook (``_start_new_thread``, 3.13's
  ``_start_joinable_thread``): a thread the run has no record of is being
  started -- a ``Thread.start`` captured before the run (``start =
  threading.Thread.start``), or a subclass that calls the original some other way;
* ``_thread.start_new_thread`` (and its aliases): an OS thread with no
  ``threading.Thread`` at all;
* ``ThreadPoolExecutor.submit`` on an executor created outside the run (also
  reached by ``loop.run_in_executor(executor, ...)``);
* ``asyncio.events._set_running_loop``, which every pure-Python event loop
  calls when it starts running: a loop that is not the run's controlled loop
  (a custom policy's, a hand-made ``SelectorEventLoop``) -- see
  :mod:`.aio.runtime`.

The failing call raises ``RuntimeError`` (an ``Exception``, so that the
standard library's own clean-up runs) after the run is marked failed; the
run's first failure is the escape, whatever the scenario does next.
"""

from __future__ import annotations

import _thread
import threading
from collections.abc import Callable
from typing import Any

from pytest_concurrency._patching import Patcher
from pytest_concurrency.world.scheduler import RunFailure, Scheduler, controlling_scheduler

#: the hook ``Thread.start`` calls to create the OS thread, by name in ``threading``
_THREADING_HOOK = (
    "_start_joinable_thread"
    if hasattr(threading, "_start_joinable_thread")
    else "_start_new_thread"
)
_REAL_HOOK: Callable[..., Any] = getattr(threading, _THREADING_HOOK)
#: the raw ``_thread`` entry points that start an OS thread, and the real functions
_RAW_STARTS: dict[str, Callable[..., Any]] = {
    name: getattr(_thread, name)
    for name in ("start_new_thread", "start_new", "start_joinable_thread")
    if hasattr(_thread, name)
}


def escape(sched: Scheduler, summary: str) -> RuntimeError:
    """Fail the run with ``summary``; returns the error the escaping call raises."""
    sched.fail(RunFailure("uncontrolled", summary, thread=_caller_name(sched)))
    return RuntimeError(summary)


def _caller_name(sched: Scheduler) -> str:
    record = sched.current
    return record.name if record is not None else ""


def _describe(function: object) -> str:
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    text = str(name) if name else type(function).__name__
    owner = getattr(function, "__self__", None)
    return f"{text} of thread {owner.name!r}" if isinstance(owner, threading.Thread) else text


def _guarded_threading_hook(real: Callable[..., Any]) -> Callable[..., Any]:
    def start_os_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
        sched = controlling_scheduler()
        if sched is not None:
            thread = getattr(function, "__self__", None)
            if not isinstance(thread, threading.Thread) or sched.record_of(thread) is None:
                name = thread.name if isinstance(thread, threading.Thread) else _describe(function)
                raise escape(
                    sched,
                    f"uncontrolled thread: the scenario started thread {name!r} past the "
                    "run's Thread.start (a start method captured before the run, or a "
                    "subclass that bypasses it), so the run could not schedule it and nothing "
                    "it does would be explored; start threads with thread.start() or "
                    "pytest_concurrency.spawn()",
                )
        return real(function, *args, **kwargs)

    return start_os_thread


def _guarded_raw_start(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def start_raw(function: Any, *args: Any, **kwargs: Any) -> Any:
        sched = controlling_scheduler()
        if sched is not None:
            raise escape(
                sched,
                f"uncontrolled thread: the scenario called _thread.{name}({_describe(function)}), "
                "an OS thread the run cannot schedule (nothing it does would be explored); "
                "use threading.Thread(...).start() or pytest_concurrency.spawn()",
            )
        return real(function, *args, **kwargs)

    return start_raw


def install(patcher: Patcher) -> None:
    """Watch the thread-starting routes for one run (restored by ``patcher``)."""
    patcher.setattr(threading, _THREADING_HOOK, _guarded_threading_hook(_REAL_HOOK))
    for name, real in _RAW_STARTS.items():
        patcher.setattr(_thread, name, _guarded_raw_start(name, real))
