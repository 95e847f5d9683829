"""Interrupts landing anywhere in explorations, and what they must leave behind: nothing.

The scenario ends every run with two daemon threads parked, so each run's
cleanup has threads to release; their unwinding spends a little real time,
which keeps the coordinator waiting in its cleanup -- where the interrupts of
:func:`storm` are meant to land -- long enough for a random moment to fall
there often.

Two ways to interrupt, as in real life: :func:`storm` delivers a signal at a
random real moment (from a timer thread, like Ctrl-C or a test timeout), and
:func:`inject` raises KeyboardInterrupt at a chosen instruction of the
coordinator's own code (from a trace function on the coordinator's thread), so
that every point of its cleanup can be hit in turn.
"""

from __future__ import annotations

import _thread
import dis
import inspect
import random
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import CodeType, FrameType, ModuleType
from typing import Any

from pytest_concurrency import _patching, _realtime
from pytest_concurrency.world import api

#: real seconds each parked thread takes to unwind once its run is over
UNWIND = 0.005
#: the signal the storm delivers; its handler raises KeyboardInterrupt
SIGNAL = signal.SIGUSR1


def _parked(stop: threading.Event) -> None:
    try:
        stop.wait()  # never set: parked until the run is over
    finally:
        _realtime.sleep(UNWIND)  # real time: the coordinator waits for it


def _add(counter: list[int]) -> None:
    value = counter[0]
    threading.Event().wait(0.001)  # a scheduling point between the read and the write
    counter[0] = value + 1


def scenario() -> None:
    stop = threading.Event()
    counter = [0]
    parked = [threading.Thread(target=_parked, args=(stop,), daemon=True) for _ in range(2)]
    workers = [threading.Thread(target=_add, args=(counter,)) for _ in range(2)]
    for thread in parked + workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert counter[0] >= 1


def _explore(runs: int = 2) -> None:
    api.explore(scenario, strategy="random", seed=1, runs=runs)


@dataclass
class Tally:
    """What a batch of interrupted explorations left behind."""

    explorations: int = 0
    #: interrupts raised out of explore()
    interrupted: int = 0
    #: of those, the ones that landed in the coordinator's cleanup
    in_cleanup: int = 0
    #: explorations after which some thread of theirs was still alive
    left_threads: int = 0
    #: explorations after which some global was not restored
    left_globals: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.explorations} explorations, {self.interrupted} interrupted "
            f"({self.in_cleanup} in the cleanup): {self.left_threads} left threads behind, "
            f"{self.left_globals} left globals patched"
        )


#: functions of the coordinator's cleanup (old and new names): an interrupt in them counts
_CLEANUP = {
    "settle",
    "settle_carriers",
    "close",
    "_close",
    "abort_all",
    "release_all",
    "wait_all",
    "join_os_threads",
    "forget_run",
    "restore",
    "_undo",
    "_end_run",
    "_retrying",
}


def _in_cleanup(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in _CLEANUP:
            return True
        tb = tb.tb_next
    return False


class Aftermath:
    """Checks, after one exploration, that it left no thread and no patch.

    Threads are counted twice: the ``threading.Thread`` objects listed by
    ``enumerate()``, and the interpreter's count of OS threads, which also
    sees the exploration's pooled OS threads (never listed).
    """

    def __init__(self, world_globals: Callable[[], dict[str, object]]) -> None:
        self._world_globals = world_globals
        self._globals = world_globals()
        self._threads = set(threading.enumerate())
        self._os_threads: int = _thread._count()  # type: ignore[attr-defined]

    def record(self, tally: Tally, label: str) -> None:
        tally.explorations += 1
        deadline = _realtime.monotonic() + 1.0
        left = self._new_threads()
        while left and _realtime.monotonic() < deadline:  # bounded: unwinding takes a moment
            _realtime.sleep(0.005)
            left = self._new_threads()
        os_threads = _thread._count()  # type: ignore[attr-defined]
        while os_threads > self._os_threads and _realtime.monotonic() < deadline:
            _realtime.sleep(0.005)
            os_threads = _thread._count()  # type: ignore[attr-defined]
        if left or os_threads > self._os_threads:
            tally.left_threads += 1
            tally.problems.append(
                f"{label}: threads left alive: {sorted(t.name for t in left)}, "
                f"{os_threads - self._os_threads} more OS threads than before"
            )
            self._threads |= set(left)  # count each exploration's own leftovers once
            self._os_threads = os_threads
        now = self._world_globals()
        changed = [name for name, value in self._globals.items() if now[name] is not value]
        if changed:
            tally.left_globals += 1
            tally.problems.append(f"{label}: globals not restored: {changed}")
            for name in changed:  # a later exploration must not be blamed for these
                self._globals[name] = now[name]

    def _new_threads(self) -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in self._threads and t.is_alive()]


class _Timer:
    """Delivers the storm's signal to the main thread after ``delay`` real seconds, if armed."""

    def __init__(self, main: int, delay: float, hard: bool) -> None:
        self._main = main
        self._delay = delay
        #: send it to the OS thread (cuts a blocking wait short) or raise it at the next check
        self._hard = hard
        self._guard = _realtime.allocate_lock()
        self._armed = True
        self.thread = threading.Thread(target=self._deliver, name="pytest-concurrency storm")

    def disarm(self) -> None:
        with self._guard:
            self._armed = False

    def _deliver(self) -> None:
        _realtime.sleep(self._delay)
        with self._guard:
            if not self._armed:
                return
            if self._hard:
                signal.pthread_kill(self._main, SIGNAL)
            else:
                _thread.interrupt_main(SIGNAL)


@contextmanager
def _signal_raises_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(SIGNAL, handler)
    try:
        yield
    finally:
        signal.signal(SIGNAL, previous)


def storm(count: int, world_globals: Callable[[], dict[str, object]], seed: int = 0) -> Tally:
    """``count`` explorations, each interrupted by a signal at a random real moment.

    Half the signals are sent to the coordinator's OS thread (they cut a
    blocking wait short, as Ctrl-C does), half are raised by the interpreter at
    its next check (``_thread.interrupt_main``: a wait runs to its end first).
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("signals reach the main thread only: run the storm there")
    rng = random.Random(seed)
    tally = Tally()
    main = threading.main_thread().ident
    assert main is not None
    window = _duration()  # so that the moments fall inside the explorations
    with _signal_raises_interrupt():
        for number in range(count):
            delay = rng.uniform(0, window)
            hard = number % 2 == 0
            timer = _Timer(main, delay, hard)
            aftermath = Aftermath(world_globals)
            try:
                timer.thread.start()
                try:
                    _explore_quietly()
                except KeyboardInterrupt as error:
                    tally.interrupted += 1
                    tally.in_cleanup += _in_cleanup(error)
                finally:
                    timer.disarm()
                _settle()
            except KeyboardInterrupt:
                pass  # it landed after the exploration: nothing to check there
            timer.thread.join(5)
            aftermath.record(tally, f"interrupt {number} ({delay * 1000:.1f} ms)")
    return tally


def _duration() -> float:
    """Real seconds one exploration takes here and now (the median of three)."""
    took = []
    for _ in range(3):
        started = _realtime.monotonic()
        _explore_quietly()
        took.append(_realtime.monotonic() - started)
    return sorted(took)[1]


def _explore_quietly(runs: int = 2) -> None:
    try:
        _explore(runs)
    except api.InterleavingFailure:
        pass  # the race, found: only what is left behind matters here


def _settle() -> None:
    """A call: an interrupt pending since the exploration returned is raised here at the latest."""


def _coordinator_modules() -> list[ModuleType]:
    """The modules of the code the coordinator runs for a run: where interrupts are injected."""
    from pytest_concurrency.world import adoption, executor, patching, runner, scheduler, workers
    from pytest_concurrency.world import threads as world_threads

    return [runner, scheduler, world_threads, executor, patching, _patching, workers, adoption]


#: instructions before which CPython never delivers an interrupt: the ones that enter a
#: protected block (``try`` compiles to NOP on 3.11+, SETUP_FINALLY on 3.10; ``with``)
_SHIELDED = frozenset(
    dis.opmap[name]
    for name in ("NOP", "SETUP_FINALLY", "SETUP_WITH", "BEFORE_ASYNC_WITH")
    if name in dis.opmap
)
#: the coordinator's wait for the run: how many instructions it runs depends on timing
_TIMING = "_watch"


class _Countdown:
    """Raises KeyboardInterrupt at the ``at``-th instruction it is told of."""

    def __init__(self, at: int) -> None:
        self.remaining = at

    @property
    def fired(self) -> bool:
        return self.remaining < 0

    def tick(self, code: CodeType, offset: int) -> None:
        if self.remaining < 0 or code.co_code[offset] in _SHIELDED:
            return
        if self.remaining == 0:
            self.remaining = -1
            raise KeyboardInterrupt(f"injected in {code.co_name} at offset {offset}")
        self.remaining -= 1


def _functions(value: object) -> Iterator[Any]:
    """The functions ``value`` is or holds: itself, or a class's methods and properties."""
    if inspect.isfunction(value):
        yield value
    elif isinstance(value, type):
        for member in vars(value).values():
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                member = member.fget
            if inspect.isfunction(member):
                yield member


def _codes(module: ModuleType) -> Iterator[CodeType]:
    """Every code object defined in ``module`` (functions, methods, nested ones)."""
    pending = [
        function.__code__
        for value in vars(module).values()
        for function in _functions(value)
        if function.__code__.co_filename == module.__file__
    ]
    seen: set[CodeType] = set()
    while pending:
        code = pending.pop()
        if code not in seen:
            seen.add(code)
            yield code
            pending += [const for const in code.co_consts if isinstance(const, CodeType)]


@contextmanager
def _traced(countdown: _Countdown) -> Iterator[None]:
    """Python 3.10 and 3.11: opcode events of ``sys.settrace`` on the calling thread."""
    files = {module.__file__ for module in _coordinator_modules()}

    def local(frame: FrameType, event: str, arg: object) -> Any:
        if event == "opcode":
            countdown.tick(frame.f_code, frame.f_lasti)
        return local

    def global_(frame: FrameType, event: str, arg: object) -> Any:
        code = frame.f_code
        if countdown.fired or code.co_filename not in files or code.co_name == _TIMING:
            return None
        frame.f_trace_opcodes = True
        return local

    previous = sys.gettrace()
    sys.settrace(global_)
    try:
        yield
    finally:
        sys.settrace(previous)


@contextmanager
def _monitored(countdown: _Countdown) -> Iterator[None]:
    """Python 3.12+: INSTRUCTION events of ``sys.monitoring`` (3.12's settrace misses opcodes)."""
    monitoring: Any = getattr(sys, "monitoring")  # noqa: B009 -- absent before 3.12
    tool = next(t for t in (5, 4, 3, 2) if monitoring.get_tool(t) is None)
    monitoring.use_tool_id(tool, "pytest-concurrency interrupt injection")
    codes = [
        code
        for module in _coordinator_modules()
        for code in _codes(module)
        if code.co_name != _TIMING
    ]

    coordinator = _thread.get_ident()

    def on_instruction(code: CodeType, offset: int) -> None:
        if _thread.get_ident() == coordinator:  # events are process-wide: the threads run it too
            countdown.tick(code, offset)

    try:
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, on_instruction)
        for code in codes:
            monitoring.set_local_events(tool, code, monitoring.events.INSTRUCTION)
        yield
    finally:
        for code in codes:
            monitoring.set_local_events(tool, code, 0)
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, None)
        monitoring.free_tool_id(tool)


def inject(at: int) -> bool:
    """Explore with a KeyboardInterrupt raised at the ``at``-th instruction the coordinator runs.

    Instructions are counted in the coordinator's own code only (see
    :func:`_coordinator_modules`), its wait for the run and the :data:`_SHIELDED`
    ones aside. Returns False when the exploration ran fewer instructions than
    that (nothing was raised).
    """
    countdown = _Countdown(at)
    injector = _monitored if sys.version_info >= (3, 12) else _traced
    try:
        with injector(countdown):
            _explore_quietly(runs=1)
    except KeyboardInterrupt:
        if not countdown.fired:
            raise  # not ours
    return countdown.fired
