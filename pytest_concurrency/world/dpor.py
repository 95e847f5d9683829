"""Dynamic partial-order reduction: one schedule per meaningfully different interleaving.

Plain DFS branches at every scheduling point. Most of those branches only
reorder operations that cannot affect each other -- two threads taking two
different locks, one thread's sleep against another's start -- and every such
reordering is a run that cannot find anything new. This strategy explores
schedules *up to the reordering of independent operations* (Mazurkiewicz
traces): stateless model checking with source sets and sleep sets, after
Abdulla, Aronis, Jonsson and Sagonas, "Optimal dynamic partial order
reduction" (POPL 2014), Algorithm 1, with the classic fallback of Flanagan and
Godefroid (POPL 2005) where a reversal's first thread cannot run.

How it sees a run. The scheduler reports every *event*: one thread running
from one scheduling point to its next (:meth:`DPORStrategy.observe`), together
with the threads that could have run instead; when nothing else could run and
the same thread goes on, its event goes on. An asyncio task is a thread here:
each step the loop runs for it is its event, whatever thread the loop runs on,
and a step happens after the event that scheduled it (:meth:`DPORStrategy.after`:
the code that created the task, the step that resolved what it awaited). A
controlled primitive tells what the event did to it (:meth:`DPORStrategy.access`:
a lock acquired, released, waited for, or a failed try), memory points and
asyncio's synchronisation objects what they touched (:meth:`DPORStrategy.touch`);
an event nobody annotates is judged by the operation at its start. After each
run, a happens-before relation is built with vector clocks
(:func:`vector_clocks`); every *race* -- two dependent accesses by different
threads, not ordered through anything else, that could have run the other way
round -- asks for the later thread (or, precisely, a thread that can start the
reversed order) to be tried at the point just before the earlier access. The
next run replays the deepest such point and takes the new branch; sleep sets
stop it from re-running an order already covered (a sleeping thread is judged
on the event it ran from the node where it fell asleep). When no point asks for
anything, every equivalence class has been run: ``exhausted``.

What "dependent" means. Accesses to one object (a lock, a queue, a thread's
end, one memory location -- see :mod:`.locations`) may conflict; accesses to
different objects never do. On a lock, acquire/acquire and try/release conflict
(a reversal changes who gets it or what a try returns), while release ->
acquire is an ordering only (the acquire could not have run first). Reads
(``locked()``, ``is_set()``, ``is_alive()``, a failed try) conflict with writes
but not with each other. A wait (a thread that found the lock taken) comes
after the acquire it saw and races with it, but orders nothing after it. A
thread's first steps, its starts and its sleeps touch nothing shared. An event
whose object is unknown (an explicit ``checkpoint()``) conflicts with
everything. At sync granularity the plain code between two scheduling points
is taken to touch nothing another thread touches unprotected -- the same
assumption every sync schedule makes -- so a proof says "for every order of the
synchronisation operations".

Injected cancellation (``inject_cancel``) is a choice no race asks for: a
"cancel this task now" option is always tried where it is offered. A task's
step writes its task object (it may finish it), and so does a cancellation:
the step after it depends on it, and so does any code asking the task
``done()`` or ``cancelled()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pytest_concurrency.world.events import ACQUIRE, JOINED, READ, RELEASE, TRY, WAIT, WRITE
from pytest_concurrency.world.locations import (
    EVERYTHING,
    UNKNOWN,
    Key,
    LocationIndex,
    conflict,
    conflict_across_runs,
    is_memory,
)
from pytest_concurrency.world.memory import MemoryAccess, instance_dict
from pytest_concurrency.world.primitives import Primitive
from pytest_concurrency.world.scheduler import ScheduleMismatch, ThreadRecord
from pytest_concurrency.world.strategies import ExplorationStrategy

__all__ = [
    "EVERYTHING",
    "UNKNOWN",
    "DPORStrategy",
    "Key",
    "conflict",
    "dependent",
    "ordered",
    "races",
    "resource_key",
]

#: modes that only look: two of them on one object are neither ordered nor a race
_READS = frozenset({READ, TRY, JOINED})
#: modes that change nothing: two of them on one object commute (for sleep sets)
_LOOKS = _READS | {WAIT}
#: pairs (earlier, later) whose reversal is a different interleaving worth running
_RACES = frozenset(
    {
        (ACQUIRE, ACQUIRE),
        (ACQUIRE, TRY),
        (TRY, ACQUIRE),
        (TRY, RELEASE),
        (RELEASE, TRY),
        (ACQUIRE, READ),
        (READ, ACQUIRE),
        (RELEASE, READ),
        (READ, RELEASE),
        (WRITE, WRITE),
        (WRITE, READ),
        (READ, WRITE),
        (WRITE, ACQUIRE),
        (ACQUIRE, WRITE),
        (WRITE, RELEASE),
        (RELEASE, WRITE),
        (WRITE, TRY),
        (TRY, WRITE),
        # a wait saw the lock taken (the thread still running): run first, it would not wait
        (ACQUIRE, WAIT),
        (WRITE, WAIT),
    }
)

#: operations that touch nothing another thread can see (at sync granularity)
_LOCAL_OPS = frozenset({"begin", "start", "sleep"})
#: operations that only look
_READ_OPS = frozenset({"locked", "is_set", "empty", "qsize", "is_alive", "full"})

#: what an event did: (location, mode) pairs
Accesses = list[tuple[Key, str]]
#: a thread's next event as run from some node: its accesses, and the memory objects
#: numbered before it (see :func:`~.locations.conflict_across_runs`)
Sleeper = tuple[tuple[tuple[Key, str], ...], int]


def _who(record: ThreadRecord) -> int:
    """Who an event of ``record`` belongs to: the task whose step it runs, else itself."""
    acting = record.acting_for
    return record.index if acting is None else acting.index


def resource_key(resource: object) -> Key:
    """The run-stable identity of a primitive or thread (creation serial, not ``id()``)."""
    if isinstance(resource, ThreadRecord):
        return ("thread", resource.index)
    if isinstance(resource, Primitive):
        serial = resource._serial
        return (resource.KIND, serial if serial else resource._name)
    return EVERYTHING


def ordered(earlier: str, later: str) -> bool:
    """True when two accesses to one object are ordered by happens-before.

    A wait comes after the change that made the thread wait (it saw the lock
    held) -- a race, like a failed try -- but orders nothing after it:
    waiting changed nothing, the step after the wake-up makes the access.
    """
    if later == WAIT:
        return earlier not in _LOOKS
    if earlier == WAIT:
        return False
    return not (earlier in _READS and later in _READS)


def races(earlier: str, later: str) -> bool:
    """True when reversing two accesses to one object could change the outcome."""
    return (earlier, later) in _RACES


def dependent(
    accesses: Iterable[tuple[Key, str]],
    live: Iterable[tuple[Key, str]],
    recorded: Iterable[tuple[Key, str]] = (),
    base: int = 0,
) -> bool:
    """Could an event with ``accesses`` change what a sleeping thread's next event does?

    That next event is given as ``live`` accesses (keyed in this run) and
    ``recorded`` ones (keyed by the run that ran it, see
    :func:`~.locations.conflict_across_runs`). Two events are independent when
    every pair of their accesses touches different locations or only reads:
    then running them in either order reaches the same state, and a thread
    asleep over one stays asleep.
    """
    for key, mode in accesses:
        for other, other_mode in live:
            if key is EVERYTHING or other is EVERYTHING:
                return True
            if (mode not in _LOOKS or other_mode not in _LOOKS) and conflict(key, other):
                return True
        for other, other_mode in recorded:
            if key is EVERYTHING or other is EVERYTHING:
                return True
            if (mode not in _LOOKS or other_mode not in _LOOKS) and conflict_across_runs(
                key, other, base
            ):
                return True
    return False


def vector_clocks(
    events: Sequence[_Event],
    creator: Mapping[int, int],
    unordered: Callable[[int, int, Key, Key, str, str], object],
) -> list[list[int]]:
    """The vector clock of each event of a run: who it happens after.

    Happens-before is program order (an asyncio task's steps in order), the
    event that created a thread or task before its first event, the event
    that scheduled a task's step (``after``) before that step, the steps a
    loop thread ran before its own later code, and every pair of dependent
    accesses to one location in the order they ran (:func:`ordered`).

    ``unordered(i, j, key, other_key, earlier_mode, later_mode)`` is called
    for each pair of dependent accesses -- event ``i`` on ``other_key``,
    event ``j`` on ``key`` -- whose order nothing else implied: ``i`` was not
    known to ``j``'s thread before that access (an event may hold several
    operations of a thread that ran with no choice: the earlier ones count).
    The access's own dependencies do not count either, so an acquire races
    with the previous acquire of the lock although the release in between
    orders them. Both the reduction (its races) and a failure's explanation
    (its conflicts) are built on it.
    """
    threads = 1 + max((event.thread for event in events), default=0)
    threads = max(threads, 1 + max(creator, default=0))
    clocks: list[list[int]] = []
    thread_clock: dict[int, list[int]] = {}
    lane_clock: dict[int, list[int]] = {}
    index = LocationIndex()
    for j, event in enumerate(events):
        me = event.thread
        clock = thread_clock.get(me)
        if clock is None:
            made_by = creator.get(me)
            clock = list(clocks[made_by]) if made_by is not None else [0] * threads
        else:
            clock = list(clock)
        joined = [clocks[i] for i in event.after]
        if event.own and event.lane in lane_clock:
            joined.append(lane_clock[event.lane])  # a loop thread after the steps it ran
        for known in joined:
            for t in range(threads):
                if known[t] > clock[t]:
                    clock[t] = known[t]
        for key, mode in event.accesses:
            dependent_on = [
                (other_key, other, earlier_mode, i)
                for other_key, (other, earlier_mode), i in index.earlier(key)
                if other != me
                and (key is EVERYTHING or other_key is EVERYTHING or ordered(earlier_mode, mode))
            ]
            for other_key, other, earlier_mode, i in dependent_on:
                if clock[other] <= i:  # i was not known to this thread before this access
                    unordered(i, j, key, other_key, earlier_mode, mode)
            for _other_key, _other, _mode, i in dependent_on:
                known = clocks[i]
                for t in range(threads):
                    if known[t] > clock[t]:
                        clock[t] = known[t]
        clock[me] = j + 1
        clocks.append(clock)
        thread_clock[me] = clock
        lane = lane_clock.get(event.lane)
        if lane is None:
            lane_clock[event.lane] = list(clock)
        else:
            for t in range(threads):
                if clock[t] > lane[t]:
                    lane[t] = clock[t]
        for key, mode in event.accesses:
            index.record(key, me, mode, j)
    return clocks


class _Event:
    """One thread (or asyncio task) running from one scheduling point to its next."""

    __slots__ = ("accesses", "after", "lane", "op_start", "own", "thread")

    def __init__(self, thread: int, lane: int, own: bool, accesses: Accesses) -> None:
        #: who ran: a thread's index, or the task's whose step a loop thread ran
        self.thread = thread
        #: the OS thread it ran on (a loop's tasks share their loop's): see vector_clocks
        self.lane = lane
        #: the OS thread's own code ran (not a task step it ran for a task)
        self.own = own
        self.accesses = accesses
        #: earlier events this one happens after besides program order (who scheduled it)
        self.after: list[int] = []
        #: where the accesses of the operation running now begin (an event may hold several)
        self.op_start = 0


class _Node:
    """The state before one event: who could run, who ran, what is left to try."""

    __slots__ = (
        "backtrack",
        "base",
        "chosen",
        "current",
        "done",
        "enabled",
        "explored",
        "shard",
        "sleep",
    )

    def __init__(
        self, enabled: tuple[int, ...], current: int, sleep: dict[int, Sleeper], base: int
    ) -> None:
        self.enabled = enabled
        #: the thread that was running and could go on (-1: none), for preemption counts
        self.current = current
        #: threads whose next event from here is covered already, with that event
        self.sleep = sleep
        #: memory objects numbered before this node's event (the same in every run through it)
        self.base = base
        self.chosen = -1
        self.done: set[int] = set()
        self.backtrack: set[int] = set()
        #: the event each done thread ran from here, recorded when its run ended
        self.explored: dict[int, Sleeper] = {}
        #: what one shard of a split exploration keeps here (see .dpor_shards)
        self.shard: Any = None


class DPORStrategy(ExplorationStrategy):
    """Source-set DPOR with sleep sets over the events the controlled world reports.

    ``bound`` (None: no bound) caps preemptions: an alternative that would
    exceed it is not run, and the exploration then does not count as exhausted
    (a bounded reduction can skip an interleaving plain bounded DFS would run).
    """

    name = "dpor"
    observes_events = True

    def __init__(self, bound: int | None) -> None:
        self._bound = bound
        self._nodes: list[_Node] = []
        self._events: list[_Event] = []
        #: index of the node where this run takes a new branch (-1: the first run)
        self._target = -1
        self._started = False
        #: thread index -> index of the event during which it was created
        self._creator: dict[int, int] = {}
        #: id() of each OS thread's Thread object seen in this run -> its lane number
        self._lanes: dict[int, int] = {}
        #: id() of each memory object seen in this run -> its number (order of first sight)
        self._numbers: dict[int, int] = {}
        #: the objects numbered, kept alive so that no id is reused within the run
        self._numbered: list[object] = []
        #: objects sharing a number with another (an object and its attribute dict), kept alive
        self._aliases: list[object] = []
        self.pruned = False
        #: runs that ended up repeating a covered class (every thread asleep somewhere)
        self.redundant_runs = 0
        self.runs = 0
        #: memory accesses seen in traced code over the whole exploration (0: blind)
        self.memory_accesses = 0
        self._redundant = False
        #: the memory location names (attribute names) raced on in the latest run
        self.racing: set[object] = set()

    # -- runs -----------------------------------------------------------------------------------

    def begin_run(self) -> bool:
        self._events = []
        self._numbers = {}
        self._numbered = []
        self._aliases = []
        self._creator = {}
        self._lanes = {}
        self._redundant = False
        self.racing = set()
        if not self._started:
            self._started = True
            self._target = -1
            return True
        nodes = self._nodes
        for depth in range(len(nodes) - 1, -1, -1):
            node = nodes[depth]
            alternative = self._alternative(node, depth)
            if alternative is not None:
                node.done.add(alternative)
                node.chosen = alternative
                del nodes[depth + 1 :]
                self._target = depth
                return True
        del nodes[:]
        self.exhausted = not self.pruned
        return False

    def end_run(self, choice_count: int) -> None:
        self.runs += 1
        if self._redundant:
            self.redundant_runs += 1
        events = self._events
        nodes = self._nodes
        del nodes[len(events) :]
        for position in range(max(self._target, 0), len(nodes)):
            node = nodes[position]
            event = events[position]
            node.explored[event.thread] = (tuple(event.accesses), node.base)
        self._find_races()

    @property
    def classes(self) -> int:
        """Runs that were a new equivalence class (not sleep-set redundant)."""
        return self.runs - self.redundant_runs

    def _alternative(self, node: _Node, depth: int) -> int | None:
        for index in sorted(node.backtrack):
            if index in node.done or index in node.sleep or index not in node.enabled:
                continue
            if self._bound is not None and self._cost(depth, index) > self._bound:
                self.pruned = True
                node.done.add(index)
                continue
            return index
        return None

    def _cost(self, depth: int, index: int) -> int:
        """Preemptions of the path to node ``depth`` and then running ``index`` there."""
        cost = 0
        nodes = self._nodes
        for position in range(depth + 1):
            node = nodes[position]
            chosen = index if position == depth else node.chosen
            if node.current != -1 and chosen != node.current:
                cost += 1
        return cost

    # -- what the scheduler reports ----------------------------------------------------------------

    def thread_created(self, index: int) -> None:
        if self._events:
            self._creator[index] = len(self._events) - 1

    def choose(self, enabled: list[ThreadRecord], current: ThreadRecord | None) -> ThreadRecord:
        position = len(self._events)
        node = self._node_at(position, enabled, current)
        if position <= self._target or node.chosen != -1:
            chosen = node.chosen
        else:
            chosen = self._free_choice(node)
        for record in enabled:
            if _who(record) == chosen:
                return record
        raise ScheduleMismatch(
            f"replaying a schedule found other threads enabled at step {position + 1}",
            nondeterministic=True,
        )

    def choose_step(self, enabled: list[ThreadRecord], default: ThreadRecord) -> ThreadRecord:
        """A choice at an asyncio loop: each ready task's next step is an event like a thread's."""
        return self.choose(enabled, default)

    def observe(self, chosen: ThreadRecord, enabled: list[ThreadRecord]) -> None:
        """``chosen`` runs next, out of ``enabled``: one more event.

        When nothing else could run and the same thread (or task) goes on,
        there was no choice: its event goes on too. A task's step is then one
        event however many points it passes (they are choices only between
        threads), and so is a thread running alone.
        """
        who = _who(chosen)
        pending = chosen.pending
        events = self._events
        if len(enabled) == 1 and events and events[-1].thread == who:
            event = events[-1]
            event.op_start = len(event.accesses)
            if pending is not None:
                event.accesses.extend(self._default_accesses(*pending))
            return
        position = len(events)
        node = self._node_at(position, enabled, None)
        if node.chosen == -1:
            node.chosen = who
            node.done.add(who)
            node.backtrack.add(who)
        elif node.chosen != who:
            raise ScheduleMismatch(
                f"replaying a schedule ran another thread at step {position + 1}",
                nondeterministic=True,
            )
        if who in node.sleep:
            self._redundant = True
        accesses = [] if pending is None else self._default_accesses(*pending)
        lane = self._lanes.setdefault(id(chosen.thread), len(self._lanes))
        own = who == chosen.index and not chosen.is_actor
        events.append(_Event(who, lane, own, accesses))

    def mark(self) -> int:
        return len(self._events) - 1

    def after(self, mark: int) -> None:
        if self._events and mark < len(self._events) - 1:
            self._events[-1].after.append(mark)

    def access(self, resource: object, mode: str | None) -> None:
        """The running operation did ``mode`` to ``resource`` (None: nothing anyone can tell).

        It replaces what the operation was judged to do to that resource by
        default (see :meth:`_default_accesses`), not what earlier operations of
        the same event did.
        """
        if not self._events:
            return
        event = self._events[-1]
        key = resource_key(resource)
        start = event.op_start
        accesses = event.accesses
        kept = [access for access in accesses[start:] if access[0] != key]
        if mode is not None:
            kept.append((key, mode))
        event.accesses = accesses[:start] + kept

    def touch(self, memory: object) -> None:
        """The running event also made the memory accesses of ``memory``."""
        if self._events and isinstance(memory, MemoryAccess):
            self._events[-1].accesses.extend(self._memory_keys(memory))

    def finished(self, record: ThreadRecord) -> None:
        """``record`` ends with its latest event: a join or is_alive learns of it."""
        for event in reversed(self._events):
            if event.thread == record.index:
                event.accesses.append((("thread", record.index), WRITE))
                break

    # -- what events touch ---

    def _number(self, obj: object) -> int:
        """``obj``'s number in this run; an object and the dict of its attributes share one
        (see :mod:`.locations`), whichever of them was touched first."""
        numbers = self._numbers
        number = numbers.get(id(obj))
        if number is not None:
            return number
        namespace = instance_dict(obj)
        number = None if namespace is None else numbers.get(id(namespace))
        if number is None:
            number = len(self._numbered)
            self._numbered.append(obj)
        else:
            self._aliases.append(obj)
        numbers[id(obj)] = number
        if namespace is not None and id(namespace) not in numbers:
            numbers[id(namespace)] = number
            self._aliases.append(namespace)
        return number

    def _known_number(self, obj: object) -> int:
        """``obj``'s number if this run has touched it (or its attribute dict), else -1."""
        numbers = self._numbers
        number = numbers.get(id(obj))
        if number is None:
            namespace = instance_dict(obj)
            number = -1 if namespace is None else numbers.get(id(namespace), -1)
        return number

    def _memory_keys(self, access: MemoryAccess) -> Accesses:
        touched = access.settle()
        if access.counted:
            self.memory_accesses += len(touched)
        found: Accesses = []
        for obj, part, mode in touched:
            owner: object = UNKNOWN if obj is None else self._number(obj)
            found.append(((owner, part), mode))
        return found

    def _default_accesses(self, op: str, resource: object) -> Accesses:
        """What an event does when no primitive says: judged by the operation at its start."""
        if isinstance(resource, MemoryAccess):
            return self._memory_keys(resource)
        if op in _LOCAL_OPS:
            return []
        key = resource_key(resource)
        return [(key, READ if op in _READ_OPS and key is not EVERYTHING else WRITE)]

    # -- nodes -----------------------------------------------------------------------------------

    def _node_at(
        self, position: int, enabled: list[ThreadRecord], current: ThreadRecord | None
    ) -> _Node:
        nodes = self._nodes
        if position < len(nodes):
            node = nodes[position]
            if len(node.enabled) != len(enabled) or any(
                index != _who(record) for index, record in zip(node.enabled, enabled, strict=True)
            ):
                raise ScheduleMismatch(
                    f"replaying the same choices gave different enabled threads at step "
                    f"{position + 1}",
                    nondeterministic=True,
                )
            if current is not None and node.current == -1:
                node.current = _who(current)
            return node
        node = _Node(
            tuple(_who(record) for record in enabled),
            -1 if current is None else _who(current),
            self._sleep(position, enabled),
            len(self._numbered),
        )
        # an injected cancellation is a choice no race asks for: it is always tried
        node.backtrack.update(
            _who(record) for record in enabled if getattr(record, "victim", None) is not None
        )
        nodes.append(node)
        return node

    def _sleep(self, position: int, enabled: list[ThreadRecord]) -> dict[int, Sleeper]:
        """The sleep set at a new node: the parent's sleepers and done siblings not woken.

        A thread stays asleep while the events run since it was put to sleep
        are independent of the event it would run: the one it ran from the
        node where it fell asleep, recorded then. Its memory accesses are
        judged on the objects it is about to touch in this run (it is parked
        at that access), the rest as recorded.
        """
        if position == 0:
            return {}
        parent = self._nodes[position - 1]
        event = self._events[position - 1]
        candidates = dict(parent.sleep)
        for index in parent.done:
            if index != parent.chosen and index in parent.explored:
                candidates[index] = parent.explored[index]
        records = {_who(record): record for record in enabled}
        asleep: dict[int, Sleeper] = {}
        for index, sleeper in candidates.items():
            if index == parent.chosen:
                continue
            recorded, base = sleeper
            live: Accesses = []
            record = records.get(index)
            pending = None if record is None else record.pending
            if pending is not None and isinstance(pending[1], MemoryAccess):
                live = self._live_keys(pending[1])
                recorded = tuple(access for access in recorded if not is_memory(access[0]))
            if not dependent(event.accesses, live, recorded, base):
                asleep[index] = sleeper
        return asleep

    def _live_keys(self, access: MemoryAccess) -> Accesses:
        """The keys of an access not made yet, in this run's numbering, numbering nothing new.

        An object this run has not numbered was touched by no event yet: it
        gets the owner -1, which no event's key has.
        """
        found: Accesses = []
        for obj, part, mode in access.predict():
            owner: object = UNKNOWN if obj is None else self._known_number(obj)
            found.append(((owner, part), mode))
        return found

    def _free_choice(self, node: _Node) -> int:
        awake = [index for index in node.enabled if index not in node.sleep]
        if not awake:
            self._redundant = True
            return node.current if node.current != -1 else node.enabled[0]
        if node.current in awake:
            return node.current
        return awake[0]

    # -- races -----------------------------------------------------------------------------------

    def _find_races(self) -> None:
        """Happens-before by vector clocks over the run; every race asks for its reversal."""
        events = self._events
        reversals: list[tuple[int, int]] = []

        def pair(i: int, j: int, key: Key, other_key: Key, earlier: str, later: str) -> bool:
            race = EVERYTHING in (key, other_key) or races(earlier, later)
            if race:
                reversals.append((i, j))
                if (
                    events[i].lane != events[j].lane  # tasks of one loop never run in parallel
                    and later in (READ, WRITE)
                    and earlier in (READ, WRITE)
                    and is_memory(key)
                    and is_memory(other_key)
                ):
                    self.racing.add(key[1])  # a data race, even if the run passes
            return True

        clocks = vector_clocks(events, self._creator, pair)
        for i, j in sorted(set(reversals), key=lambda race: (race[1], race[0])):
            self._reverse(i, j, clocks)

    def _reverse(self, i: int, j: int, clocks: list[list[int]]) -> None:
        """Race (i, j): make sure some thread that starts the reversed order runs before i."""
        events = self._events
        node = self._nodes[i]
        first = events[i].thread
        mark = clocks[i][first]
        initials: list[int] = []
        seen: list[int] = []
        for k in range(i + 1, j + 1):
            clock = clocks[k]
            if k < j and clock[first] >= mark:
                continue  # happens after i: not movable before it
            thread = events[k].thread
            if thread in initials or any(
                clocks[m][events[m].thread] <= clock[events[m].thread] for m in seen
            ):
                seen.append(k)
                continue
            initials.append(thread)
            seen.append(k)
        later = events[j].thread
        candidates = [t for t in initials if t in node.enabled]
        if any(t in node.backtrack or t in node.sleep for t in candidates):
            return
        if candidates:
            node.backtrack.add(later if later in candidates else candidates[0])
            return
        node.backtrack.update(t for t in node.enabled if t not in node.sleep)
