"""Locks captured at import by other objects: patch() finds them, every run, and puts them back.

The module under test is ``captured_locks_app``: a ``cachetools.cached``
wrapper keeping the module's lock (the cache stampede), its fixed twin with
``condition=``, a lock kept only in a decorator's closure, one in a default
argument, one as a class attribute.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import captured_locks_app as app
import pytest

from pytest_concurrency.world import advice
from pytest_concurrency.world.api import explore
from pytest_concurrency.world.conditions import Event as ControlledEvent
from pytest_concurrency.world.locks import Lock
from pytest_concurrency.world.patching import PatchPlan
from pytest_concurrency.world.report import InterleavingFailure, UncontrolledBlock


def _two_threads(target: Callable[..., object], *args: Any) -> Callable[[], None]:
    """A scenario: fresh state, two threads calling ``target(*args)``, joined."""

    def scenario() -> None:
        app.reset()
        threads = [threading.Thread(target=target, args=args) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return scenario


def _stampede(load: Callable[[str], str]) -> Callable[[], None]:
    body = _two_threads(load, "k")

    def scenario() -> None:
        body()
        assert app.loads == ["k"], f"the loader ran {len(app.loads)} times for one cold key"

    return scenario


# -- the cachetools stampede -------------------------------------------------------------------


@pytest.mark.parametrize("granularity", ["sync", "line"])
@pytest.mark.parametrize("target", ["module", "decorated function"])
def test_the_stampede_is_found_with_patch(target: str, granularity: str) -> None:
    patch = app if target == "module" else app.load
    with pytest.raises(InterleavingFailure, match="the loader ran 2 times") as info:
        explore(_stampede(app.load), patch=[patch], granularity=granularity, runs=200, seed=1)
    assert isinstance(info.value.__cause__, AssertionError)


@pytest.mark.parametrize("granularity", ["sync", "line"])
@pytest.mark.parametrize("target", ["module", "decorated function"])
def test_the_fixed_twin_passes_dfs_to_exhaustion(target: str, granularity: str) -> None:
    patch = app if target == "module" else app.load_fixed
    result = explore(
        _stampede(app.load_fixed),
        patch=[patch],
        strategy="dfs",
        runs=None,
        granularity=granularity,
    )
    assert result.exhausted
    assert result.schedules_run > 10  # the condition's waits were explored, not skipped


def test_one_primitive_is_one_twin_wherever_it_is_kept() -> None:
    seen: list[bool] = []

    def scenario() -> None:
        lock = app._LOCK
        seen.append(
            isinstance(lock, Lock)
            and app.load.cache_lock is lock  # the wrapper's attribute
            and app.load_fixed.cache_lock is lock
            and app._COND._lock is lock  # the module's Condition is over the same twin
            and app.load_fixed.cache_condition is app._COND
        )

    # found by two plans (the module and the function): still one twin per run
    explore(scenario, patch=[app, app.load, app.load_fixed], strategy="pct", runs=3)
    assert seen == [True] * 3


def test_the_plan_names_where_each_primitive_hides() -> None:
    names = PatchPlan(app).names
    assert "captured_locks_app._LOCK" in names
    assert "captured_locks_app.load.cache_lock" in names
    assert "captured_locks_app.bump.<closure lock>" in names
    assert "captured_locks_app._unlocked_bump_with.<default lock>" in names
    assert "captured_locks_app.Registry._lock" in names


# -- closures, defaults, __wrapped__, partials, bound methods, class attributes -----------------


def _cell(func: Any, name: str) -> Any:
    return func.__closure__[func.__code__.co_freevars.index(name)]


def test_a_lock_in_a_closure_is_swapped() -> None:
    cell = _cell(app.bump, "lock")
    original = cell.cell_contents
    kinds: list[type] = []

    def scenario() -> None:
        kinds.append(type(_cell(app.bump, "lock").cell_contents))
        _two_threads(app.bump)()
        assert app.counter["value"] == 2

    result = explore(scenario, patch=[app.bump], strategy="dfs", runs=None)
    assert result.exhausted
    assert set(kinds) == {Lock}
    assert cell.cell_contents is original


def test_a_lock_in_a_default_argument_is_swapped_and_its_race_found() -> None:
    defaults = app._unlocked_bump_with.__defaults__

    def scenario() -> None:
        _two_threads(app.bump_by_default)()
        assert app.counter["value"] == 2, "lost update"

    with pytest.raises(InterleavingFailure, match="lost update"):
        explore(scenario, patch=[app.bump_by_default], strategy="dfs", runs=None)
    assert app._unlocked_bump_with.__defaults__ is defaults


def test_a_lock_in_a_keyword_default_is_swapped() -> None:
    lock = threading.Lock()

    def guarded(*, guard: Any = lock) -> str:
        return type(guard).__name__

    kwdefaults = guarded.__kwdefaults__
    names: list[str] = []
    explore(lambda: names.append(guarded()), patch=[guarded], strategy="pct", runs=2)
    assert names == ["Lock", "Lock"]  # the controlled Lock's class name
    assert guarded.__kwdefaults__ is kwdefaults
    assert guarded() == "lock"  # the real one again


def test_a_wrapped_chain_is_followed() -> None:
    lock = threading.Lock()

    def inner() -> Any:
        return lock

    @functools.wraps(inner)
    def outer() -> Any:
        return inner()

    # ``outer`` refers to ``inner`` only through its closure and its ``__wrapped__``
    seen: list[object] = []
    explore(lambda: seen.append(outer()), patch=[outer], strategy="pct", runs=2)
    assert all(isinstance(value, Lock) for value in seen)
    assert outer() is lock


def test_partial_arguments_and_bound_methods_are_swapped() -> None:
    lock = threading.Lock()
    event = threading.Event()

    def use(guard: Any, *, flag: Any) -> tuple[type, type]:
        return type(guard), type(flag)

    bound = functools.partial(use, lock, flag=event)

    class Service:
        def __init__(self) -> None:
            self._lock = threading.Lock()

        def kind(self) -> type:
            return type(self._lock)

    service = Service()
    service_lock = service._lock
    seen: list[object] = []
    explore(
        lambda: seen.append((bound(), service.kind())),
        patch=[bound, service.kind],
        strategy="pct",
        runs=2,
    )
    assert seen == [((Lock, ControlledEvent), Lock)] * 2
    assert bound.args[0] is lock and bound.keywords["flag"] is event
    assert service._lock is service_lock


def test_a_class_attribute_lock_is_found_through_its_module() -> None:
    def scenario() -> None:
        registry = app.Registry()
        app.reset()
        threads = [threading.Thread(target=registry.add, args=("k",)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert app.Registry.entries == {"k": 1}, "added twice"

    with pytest.raises(InterleavingFailure, match="added twice"):
        explore(scenario, patch=[app], strategy="dfs", runs=None)


# -- what the walk leaves alone ----------------------------------------------------------------


def test_imported_functions_and_stdlib_objects_are_not_walked() -> None:
    module = types.ModuleType("importer")
    exec(
        "import queue, threading\n"
        # another module's function: its closure is not this module's to swap
        "from captured_locks_app import bump\n"
        "_queue = queue.Queue()\n"  # the stdlib's own lock inside: left alone
        "_lock = threading.Lock()\n",
        module.__dict__,
    )
    assert PatchPlan(module).names == ("importer._lock",)


def test_cycles_and_depth_are_bounded() -> None:
    class Node:
        def __init__(self) -> None:
            self.next: Node = self
            self.lock = threading.Lock()

    node = Node()
    node.next = Node()
    node.next.next = node  # a cycle
    assert set(PatchPlan(node).names) == {"Node.lock", "Node.next.lock"}

    class Link:
        def __init__(self, child: object) -> None:
            self.child = child

    deep: object = Node()
    for _ in range(6):  # the lock is six attributes down: beyond the walk's bound
        deep = Link(deep)
    with pytest.raises(ValueError, match="found no lock"):
        PatchPlan(deep)


# -- everything back, whatever happened ----------------------------------------------------------


def _identities() -> dict[str, object]:
    """Every object the walk swaps in ``app``, by where it is."""
    return {slot.where: slot.get() for slot in PatchPlan(app).slots}


def test_every_swapped_object_is_restored_after_a_passing_and_a_failing_run() -> None:
    before = _identities()
    explore(lambda: None, patch=[app], strategy="pct", runs=2)
    assert _identities().keys() == before.keys()
    assert all(_identities()[where] is value for where, value in before.items())
    with pytest.raises(InterleavingFailure):
        explore(_stampede(app.load), patch=[app], strategy="pct", runs=200, seed=1)
    after = _identities()
    assert all(after[where] is value for where, value in before.items()), [
        where for where, value in before.items() if after[where] is not value
    ]
    assert _cell(app.bump, "lock").cell_contents is before["captured_locks_app.bump.<closure lock>"]


# -- the advice of an uncontrolled block ---------------------------------------------------------


def _uncontrolled(scenario: Callable[[], None], **options: Any) -> str:
    before = set(threading.enumerate())
    with pytest.raises(UncontrolledBlock) as info:
        explore(scenario, granularity="line", runs=50, seed=1, uncontrolled_timeout=0.3, **options)
    # a thread the run had to abandon ends once unblocked: wait for it, boundedly
    for thread in set(threading.enumerate()) - before:
        thread.join(5)
        assert not thread.is_alive(), f"{thread.name} is still blocked"
    return str(info.value)


def test_the_advice_names_the_closure_holding_the_lock() -> None:
    message = _uncontrolled(_two_threads(app.bump), trace=[app])
    assert "is held in: the closure of captured_locks_app.bump (lock)" in message
    assert "pass captured_locks_app to interleavings.patch(...)" in message
    assert "--interleavings-controllable-locks" in message


def test_the_advice_names_the_decorator_wrapper_holding_the_lock() -> None:
    # cachetools' own lines traced too: preempted inside its ``with lock:``
    message = _uncontrolled(_two_threads(app.load, "k"), trace=[app, "cachetools"])
    held = next(line for line in message.splitlines() if "is held in:" in line)
    assert "the global captured_locks_app._LOCK" in held
    assert re.search(r"captured_locks_app\.load\b", held), held


def test_the_advice_never_repeats_a_patch_already_applied() -> None:
    message = _uncontrolled(_two_threads(app.bump_from_table), trace=[app], patch=[app])
    assert "is held in: captured_locks_app._TABLE['bump'], an item of a dict" in message
    assert "does not swap primitives kept inside dicts" in message
    assert "pass captured_locks_app to" not in message
    assert "pass its module or object to interleavings.patch" not in message
    assert "--interleavings-controllable-locks" in message


def test_an_instance_brings_its_class_attributes() -> None:
    registry = app.Registry()
    assert "Registry._lock" in PatchPlan(registry).names
    assert "Registry._lock" in PatchPlan(registry.add).names  # through the bound method


class _Guard:
    """An object holding a lock made outside any run."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock

    def where_blocked(self) -> Any:
        """The frame of a thread about to take ``self._lock`` (as a stuck thread's would be)."""
        frame = sys._getframe()
        self._lock.locked()  # the code names ``self._lock``, as ``with self._lock:`` would
        return frame


def test_the_advice_finds_the_lock_through_self_and_knows_the_module_is_patched() -> None:
    plans = (PatchPlan(app),)  # the plan looked before the guard was bound in the module
    guard = _Guard(threading.Lock())
    app.late_guard = guard  # type: ignore[attr-defined]
    try:
        fixes = advice.uncontrolled_fixes(guard.where_blocked(), plans)
    finally:
        del app.late_guard  # type: ignore[attr-defined]
    assert "is held in: captured_locks_app.late_guard._lock" in fixes
    assert "captured_locks_app is patched already" in fixes
    assert "(captured_locks_app.late_guard)" in fixes
    assert "pass captured_locks_app to" not in fixes
