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
from typing import Any

from pytest_concurrency.world.events import ACQUIRE, JOINED, READ, RELEASE, TRY, WRITE
from pytest_concurrency.world.memory import STATE, MemoryAccess
from pytest_concurrency.world.primitives import Primitive
from pytest_concurrency.world.scheduler import ScheduleMismatch, ThreadRecord
from pytest_concurrency.world.strategies import ExplorationStrategy

#: a run-stable identity of what an access touches: ("Lock", 3), ("thread", 2), ...
Key = tuple[str, object]

#: pairs (earlier, later) that are ordered by happens-before when they touch one object
_READS = frozenset({READ, TRY, JOINED})
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
    }
)

#: the key of an event that may touch anything
EVERYTHING: Key = ("*", None)

#: operations that touch nothing another thread can see (at sync granularity)
_LOCAL_OPS = frozenset({"begin", "start", "sleep"})
#: operations that only look
_READ_OPS = frozenset({"locked", "is_set", "empty", "qsize", "is_alive", "full"})


def resource_key(resource: object) -> Key:
    """The run-stable identity of a primitive or thread (creation serial, not ``id()``)."""
    if isinstance(resource, ThreadRecord):
        return ("thread", resource.index)
    if isinstance(resource, Primitive):
        serial = resource._serial
        return (resource.KIND, serial if serial else resource._name)
    return EVERYTHING


#: the object part of a memory key whose object is not known: it meets every object
UNKNOWN = "?"


def conflict(first: Key, second: Key) -> bool:
    """Could accesses to these two locations touch the same memory?"""
    if first == second or first is EVERYTHING or second is EVERYTHING:
        return True
    if first[0] == second[0] and STATE in (first[1], second[1]):
        return True  # untraced code ran on the object: any of its state
    return first[1] == second[1] and UNKNOWN in (first[0], second[0])


def ordered(earlier: str, later: str) -> bool:
    """True when two accesses to one object are ordered by happens-before."""
    return not (earlier in _READS and later in _READS)


def races(earlier: str, later: str) -> bool:
    """True when reversing two accesses to one object could change the outcome."""
    return (earlier, later) in _RACES


class _Event:
    """One thread running from one scheduling point to its next."""

    __slots__ = ("accesses", "thread")

    def __init__(self, thread: int, accesses: list[tuple[Key, str]]) -> None:
        self.thread = thread
        self.accesses = accesses


class _Node:
    """The state before one event: who could run, who ran, what is left to try."""

    __slots__ = ("backtrack", "chosen", "current", "done", "enabled", "pending", "shard", "sleep")

    def __init__(
        self,
        enabled: tuple[int, ...],
        pending: dict[int, tuple[Key, ...]],
        current: int,
        sleep: dict[int, tuple[Key, ...]],
    ) -> None:
        self.enabled = enabled
        #: what each enabled thread's next event starts on (for sleep sets)
        self.pending = pending
        #: the thread that was running and could go on (-1: none), for preemption counts
        self.current = current
        self.sleep = sleep
        self.chosen = -1
        self.done: set[int] = set()
        self.backtrack: set[int] = set()
        #: what one shard of a split exploration keeps here (see .dpor_shards)
        self.shard: Any = None


def _touches(accesses: Iterable[tuple[Key, str]], keys: tuple[Key, ...]) -> bool:
    """Could an event with ``accesses`` change what a thread about to act on ``keys`` does?"""
    return any(conflict(touched, key) for touched, _mode in accesses for key in keys)


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
        self._finished: set[int] = set()
        self._preemptions = 0
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
        self._finished = set()
        self._preemptions = 0
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
        del self._nodes[len(self._events) :]
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
            if chosen.index in node.sleep:
                self._redundant = True
        elif node.chosen != chosen.index:
            raise ScheduleMismatch(
                f"replaying a schedule ran another thread at step {position + 1}",
                nondeterministic=True,
            )
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
        key = self._key(resource)
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

    def _key(self, resource: object) -> Key:
        return resource_key(resource)

    def _memory_keys(self, access: MemoryAccess) -> list[tuple[Key, str]]:
        self.memory_accesses += len(access.accesses)
        found: list[tuple[Key, str]] = []
        for obj, name, mode in access.accesses:
            if obj is None:
                found.append(((UNKNOWN, name), mode))
            else:
                found.append(((f"#{self._number(obj)}", name), mode))
        return found

    def _default_accesses(self, op: str, resource: object) -> list[tuple[Key, str]]:
        """What an event does when no primitive says: judged by the operation at its start."""
        if isinstance(resource, MemoryAccess):
            return self._memory_keys(resource)
        if op in _LOCAL_OPS:
            return []
        key = resource_key(resource)
        return [(key, READ if op in _READ_OPS and key is not EVERYTHING else WRITE)]

    def _pending_keys(self, record: ThreadRecord) -> tuple[Key, ...]:
        pending = record.pending
        if pending is None:
            return ()
        return tuple(key for key, _mode in self._default_accesses(*pending))

    # -- nodes -----------------------------------------------------------------------------------

    def _node_at(
        self, position: int, enabled: list[ThreadRecord], current: ThreadRecord | None
    ) -> _Node:
        indices = tuple(record.index for record in enabled)
        # numbered in the same order in every run, so keys stay comparable across runs
        pending = {record.index: self._pending_keys(record) for record in enabled}
        if position < len(self._nodes):
            node = self._nodes[position]
            if node.enabled != indices:
                raise ScheduleMismatch(
                    f"replaying the same choices gave different enabled threads at step "
                    f"{position + 1}",
                    nondeterministic=True,
                )
            if current is not None and node.current == -1:
                node.current = current.index
            return node
        node = _Node(
            indices, pending, -1 if current is None else current.index, self._sleep(position)
        )
        self._nodes.append(node)
        return node

    def _sleep(self, position: int) -> dict[int, tuple[Key, ...]]:
        """The sleep set at a new node: the parent's sleepers and done siblings not woken."""
        if position == 0:
            return {}
        parent = self._nodes[position - 1]
        event = self._events[position - 1]
        asleep: dict[int, tuple[Key, ...]] = {}
        candidates = dict(parent.sleep)
        for index in parent.done:
            if index != parent.chosen:
                candidates[index] = parent.pending[index]
        for index, keys in candidates.items():
            if index == parent.chosen:
                continue
            if not _touches(event.accesses, keys):
                asleep[index] = keys
        return asleep

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
        events = self._events
        threads = 1 + max((event.thread for event in events), default=0)
        threads = max(threads, 1 + max(self._creator, default=0))
        clocks: list[list[int]] = []
        thread_clock: dict[int, list[int]] = {}
        #: key -> (thread, mode) -> index of the latest such event
        latest: dict[Key, dict[tuple[int, str], int]] = {}
        last_of_thread: dict[int, int] = {}
        #: location name -> the keys seen with it (an unknown object meets them all)
        by_name: dict[object, set[Key]] = {}
        #: object part -> the keys seen with it (untraced code on an object meets them all)
        by_owner: dict[object, set[Key]] = {}
        for j, event in enumerate(events):
            me = event.thread
            clock = thread_clock.get(me)
            if clock is None:
                creator = self._creator.get(me)
                clock = list(clocks[creator]) if creator is not None else [0] * threads
            before = clock
            clock = list(clock)
            found: list[int] = []
            for key, mode in event.accesses:
                for (other, earlier_mode), i in self._conflicting(
                    latest, last_of_thread, key, by_name, by_owner
                ):
                    if other == me:
                        continue
                    if key is EVERYTHING or earlier_mode == "*":
                        hb, race = True, True
                    else:
                        hb = ordered(earlier_mode, mode)
                        race = races(earlier_mode, mode)
                    if not hb:
                        continue
                    known = clocks[i]
                    if race and known[other] > before[other]:
                        found.append(i)
                        if key[0] != "*" and str(key[0])[:1] in ("#", UNKNOWN):
                            self.racing.add(key[1])  # a data race, even if the run passes
                    for t in range(threads):
                        if known[t] > clock[t]:
                            clock[t] = known[t]
            clock[me] = j + 1
            clocks.append(clock)
            thread_clock[me] = clock
            last_of_thread[me] = j
            for key, mode in event.accesses:
                latest.setdefault(key, {})[(me, mode)] = j
                if key is not EVERYTHING:
                    by_name.setdefault(key[1], set()).add(key)
                    by_owner.setdefault(key[0], set()).add(key)
            for i in found:
                self._reverse(i, j, clocks)

    @staticmethod
    def _conflicting(
        latest: dict[Key, dict[tuple[int, str], int]],
        last_of_thread: dict[int, int],
        key: Key,
        by_name: dict[object, set[Key]],
        by_owner: dict[object, set[Key]],
    ) -> list[tuple[tuple[int, str], int]]:
        if key is EVERYTHING:
            return [((thread, "*"), index) for thread, index in last_of_thread.items()]
        if key[0] == UNKNOWN:
            found = [item for other in by_name.get(key[1], ()) for item in latest[other].items()]
        elif key[1] == STATE:  # every location of that object
            found = [item for other in by_owner.get(key[0], ()) for item in latest[other].items()]
        else:
            found = list(latest.get(key, {}).items())
            found.extend(latest.get((UNKNOWN, key[1]), {}).items())
            found.extend(latest.get((key[0], STATE), {}).items())
        found.extend(
            ((thread, "*"), index) for (thread, _m), index in latest.get(EVERYTHING, {}).items()
        )
        return found

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
