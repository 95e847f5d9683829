"""What an event did to an object: the access modes a partial-order reduction reads.

An *event* is one thread running from one scheduling point to its next. The
controlled primitives say what each event did to them (``Scheduler.access``);
the reduction (:mod:`.dpor`) decides from these modes which pairs of events are
ordered by happens-before and which could have run the other way round.
"""

from __future__ import annotations

#: changed the object in a way others can see
WRITE = "w"
#: only looked at the object (``locked()``, ``is_set()``, ``is_alive()``)
READ = "r"
#: took a lock or a semaphore unit
ACQUIRE = "acq"
#: gave a lock or a semaphore unit back
RELEASE = "rel"
#: an acquire that failed without blocking, or timed out: it saw the lock taken
TRY = "try"
#: learnt that a thread ended (``join`` returned): ordered after the end, never reversed
JOINED = "joined"
#: found the object in a state that makes the thread wait (a lock held, a thread still
#: running): what the thread does next depends on that state changing, so an event that
#: changes the object is dependent on this one (it wakes a sleeping thread). The wait
#: comes after the acquire it saw, and races with it like a failed try (run first, the
#: thread would not wait); but it orders nothing after it -- the step after the wake-up
#: makes the access
WAIT = "wait"
