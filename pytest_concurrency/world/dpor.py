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
with the threads that could have run instead. A controlled primitive tells what
the event did to it (:meth:`DPORStrategy.access`: a lock acquired, released, or
a failed try); an event nobody annotates is judged by the operation at its
start. After each run, a happens-before relation is built with vector clocks
(program order, thread creation, and the order of dependent accesses); every
*race* -- two dependent accesses by different threads, not ordered through
anything else, that could have run the other way round -- asks for the later
thread (or, precisely, a thread that can start the reversed order) to be tried
at the point just before the earlier access. The next run replays the deepest
such point and takes the new branch; sleep sets stop it from re-running an
order already covered. When no point asks for anything, every equivalence class
has been run: ``exhausted``.

What "dependent" means. Accesses to one object (a lock, a queue, a thread's
end) may conflict; accesses to different objects never do. On a lock,
acquire/acquire and try/release conflict (a reversal changes who gets it or
what a try returns), while release -> acquire is an ordering only (the acquire
could not have run first). Reads (``locked()``, ``is_set()``, ``is_alive()``,
a failed try) conflict with writes but not with each other. A thread's first
steps, its starts and its sleeps touch nothing shared. An event whose object is
unknown (an explicit ``checkpoint()``) conflicts with everything. At sync
granularity the plain code between two scheduling points is taken to touch
nothing another thread touches unprotected -- the same assumption every sync
schedule makes -- so a proof says "for every order of the synchronisation
operations".
"""

from __future__ import annotations

from collections.abc import Iterable

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
from pytest_concurrency.world.memory import MemoryAccess
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


class _Event:
    """One thread running from one scheduling point to its next."""

    __slots__ = ("accesses", "thread")

    def __init__(self, thread: int, accesses: Accesses) -> None:
        self.thread = thread
        self.accesses = accesses


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
        #: id() of each memory object seen in this run -> its number (order of first sight)
        self._numbers: dict[int, int] = {}
        #: the objects numbered, kept alive so that no id is reused within the run
        self._numbered: list[object] = []
        self.pruned = False
        #: runs that ended up repeating a covered class (every thread asleep somewhere)
        self.redundant_runs = 0
        self.runs = 0
        #: memory accesses seen in traced code over the whole exploration (0: blind)
        self.memory_accesses = 0
        self._redundant = False
        self.unsupported = ""
        #: the memory location names (attribute names) raced on in the latest run
        self.racing: set[object] = set()

    # -- runs -----------------------------------------------------------------------------------

    def begin_run(self) -> bool:
        self._events = []
        self._numbers = {}
        self._numbered = []
        self._creator = {}
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
        if self.unsupported:
            raise ValueError(self.unsupported)
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
            if record.index == chosen:
                return record
        raise ScheduleMismatch(
            f"replaying a schedule found other threads enabled at step {position + 1}",
            nondeterministic=True,
        )

    def choose_step(self, enabled: list[ThreadRecord], default: ThreadRecord) -> ThreadRecord:
        self.unsupported = (
            "strategy='dpor' does not reduce asyncio task steps yet: explore this scenario "
            "with strategy='dfs' (exhaustive within a preemption bound) or 'pct'"
        )
        return default

    def observe(self, chosen: ThreadRecord, enabled: list[ThreadRecord]) -> None:
        """``chosen`` runs next, out of ``enabled``: one more event."""
        position = len(self._events)
        node = self._node_at(position, enabled, None)
        if node.chosen == -1:
            node.chosen = chosen.index
            node.done.add(chosen.index)
            node.backtrack.add(chosen.index)
        elif node.chosen != chosen.index:
            raise ScheduleMismatch(
                f"replaying a schedule ran another thread at step {position + 1}",
                nondeterministic=True,
            )
        if chosen.index in node.sleep:
            self._redundant = True
        pending = chosen.pending
        accesses = [] if pending is None else self._default_accesses(*pending)
        self._events.append(_Event(chosen.index, accesses))

    def access(self, resource: object, mode: str | None) -> None:
        """The running event did ``mode`` to ``resource`` (None: nothing, it only waited).

        It replaces what the event was judged to do to that resource by default.
        """
        if not self._events:
            return
        event = self._events[-1]
        key = resource_key(resource)
        accesses = [access for access in event.accesses if access[0] != key]
        if mode is not None:
            accesses.append((key, mode))
        event.accesses = accesses

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
        number = self._numbers.get(id(obj))
        if number is None:
            number = len(self._numbered)
            self._numbers[id(obj)] = number
            self._numbered.append(obj)
        return number

    def _memory_keys(self, access: MemoryAccess) -> Accesses:
        touched = access.settle()
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
                index != record.index for index, record in zip(node.enabled, enabled, strict=True)
            ):
                raise ScheduleMismatch(
                    f"replaying the same choices gave different enabled threads at step "
                    f"{position + 1}",
                    nondeterministic=True,
                )
            if current is not None and node.current == -1:
                node.current = current.index
            return node
        node = _Node(
            tuple(record.index for record in enabled),
            -1 if current is None else current.index,
            self._sleep(position, enabled),
            len(self._numbered),
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
        records = {record.index: record for record in enabled}
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
        numbers = self._numbers
        found: Accesses = []
        for obj, part, mode in access.predict():
            owner: object = UNKNOWN if obj is None else numbers.get(id(obj), -1)
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
        threads = 1 + max((event.thread for event in events), default=0)
        threads = max(threads, 1 + max(self._creator, default=0))
        clocks: list[list[int]] = []
        thread_clock: dict[int, list[int]] = {}
        index = LocationIndex()
        reversals: list[tuple[int, int]] = []
        for j, event in enumerate(events):
            me = event.thread
            clock = thread_clock.get(me)
            if clock is None:
                creator = self._creator.get(me)
                clock = list(clocks[creator]) if creator is not None else [0] * threads
            before = clock
            clock = list(clock)
            found: set[int] = set()
            for key, mode in event.accesses:
                for other_key, (other, earlier_mode), i in index.earlier(key):
                    if other == me:
                        continue
                    if key is EVERYTHING or other_key is EVERYTHING:
                        hb, race = True, True
                    else:
                        hb = ordered(earlier_mode, mode)
                        race = races(earlier_mode, mode)
                    if not hb:
                        continue
                    known = clocks[i]
                    if race and known[other] > before[other]:
                        found.add(i)
                        if key is not EVERYTHING and is_memory(key) and is_memory(other_key):
                            self.racing.add(key[1])  # a data race, even if the run passes
                    for t in range(threads):
                        if known[t] > clock[t]:
                            clock[t] = known[t]
            clock[me] = j + 1
            clocks.append(clock)
            thread_clock[me] = clock
            for key, mode in event.accesses:
                index.record(key, me, mode, j)
            reversals.extend((i, j) for i in sorted(found))
        for i, j in reversals:
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
