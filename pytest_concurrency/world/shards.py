"""Shards: one exploration split into parts that separate processes (or hosts) run alone.

``explore(..., shard=(index, count))`` explores part ``index`` of ``count``:

- ``dfs`` and ``dpor`` split the schedule tree. Each choice point on a path
  carries an estimate of its *mass*, the share of the whole tree below it (1
  at the root; a child gets its parent's mass times its estimated share of
  the parent's subtree). A *prefix* is a path from the root down to the first
  choice point whose mass is at most ``1 / split_width(count)`` -- so about
  :data:`PREFIXES_PER_SHARD` prefixes of similar estimated size per shard --
  or a whole schedule that ends above it. Prefixes are numbered in the order
  a depth-first walk meets them, and a shard owns every ``count``-th one
  (``ordinal % count == index``): neighbours in the tree, often alike in
  size, go to different shards. (Dealing by the estimated masses instead was
  tried: the estimates are too rough for it to do better.)
  Every shard walks the same top of the tree: through a prefix it does not own
  it runs one *discovery* schedule, which is not counted, reports nothing and
  only shows the tree below the prefix's choices. Below a prefix it owns it
  explores as the unsharded exploration would, so for ``dfs`` the shards' runs
  add up to the unsharded ones exactly. ``dpor`` learns where to branch as it
  goes: a branch a shard's own run asks for at a node of the shared top is
  explored by that shard alone (see :mod:`.dpor_shards`), so the shards
  together may run more schedules than the unsharded reduction, never fewer
  classes.
- ``random`` and ``pct`` draw from disjoint seed streams (one derived from the
  seed and the shard), and the shards share the ``runs`` budget.

The shard of a test's collected item is part of its node id (:func:`shard_id`);
its replay command names the unsharded test (:func:`unsharded_nodeid`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = [
    "PrefixOwner",
    "Shard",
    "check_shard",
    "prefix_owner",
    "shard_id",
    "shard_seed",
    "share_of_runs",
    "split_width",
    "unsharded_nodeid",
]

#: prefixes per shard the split aims at: more make the parts even (many subtrees dealt
#: round-robin), and each costs the shards that do not own it one discovery schedule
PREFIXES_PER_SHARD = 16


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (0-based) of an exploration split in ``count`` parts."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"shard {self.index} of {self.count}"


def check_shard(value: object) -> Shard | None:
    """``explore(shard=...)`` checked: None, or a pair of ints ``(index, count)``."""
    if value is None:
        return None
    if isinstance(value, Shard):
        value = (value.index, value.count)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(
            f"shard must be a pair (index, count) such as (0, 4), or None, got {value!r}"
        )
    index, count = value
    for name, number in (("index", index), ("count", count)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise TypeError(
                f"shard=(index, count): {name} must be an int, got {type(number).__name__} "
                f"{number!r}"
            )
    if count < 1:
        raise ValueError(f"shard=(index, count): count must be at least 1, got {count}")
    if not 0 <= index < count:
        raise ValueError(
            f"shard=(index, count): index must be in 0..{count - 1} (count={count}), got {index}"
        )
    return Shard(index, count)


def split_width(count: int) -> int:
    """How many prefixes of even mass the tree is split in, for ``count`` parts."""
    return PREFIXES_PER_SHARD * count


def share_of_runs(runs: int | None, shard: Shard | None) -> int | None:
    """A shard's part of a ``runs`` budget: the shards together run at most ``runs``."""
    if runs is None or shard is None:
        return runs
    return runs // shard.count + (1 if shard.index < runs % shard.count else 0)


def shard_seed(seed: int, shard: Shard | None) -> int:
    """The seed of a shard's stream: ``seed`` itself unsharded, a derived one otherwise.

    Derived by hashing, so the streams of different shards are unrelated (not
    offsets into one sequence) and the same in every process.
    """
    if shard is None or shard.count == 1:
        return seed
    digest = hashlib.sha256(f"{seed}/{shard.index}/{shard.count}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class PrefixOwner:
    """Numbers the prefixes in the order a depth-first walk meets them; owns its shard's.

    A strategy keeps, at each choice point, its estimated *mass* (the share of
    the tree below it); the choice points heavier than ``1 / width`` are the
    prefix region. When a run went down a new prefix (the first run, and
    every run whose first new choice lies in the prefix region) it calls
    :meth:`enter`, and explores below the prefix only when that returns True.
    The run itself is the same whoever owns it.
    """

    __slots__ = ("_next", "shard", "width")

    def __init__(self, shard: Shard) -> None:
        self.shard = shard
        #: the inverse of the mass at which the prefix region ends
        self.width = split_width(shard.count)
        self._next = 0

    def shared(self, mass: float) -> bool:
        """Is a choice point of this mass in the prefix region (walked by every shard)?"""
        return mass * self.width > 1.0 + 1e-9  # a mass of exactly 1 / width ends it

    def enter(self) -> bool:
        """A run went down the next prefix: True when this shard owns it."""
        ordinal = self._next
        self._next = ordinal + 1
        return ordinal % self.shard.count == self.shard.index


def prefix_owner(shard: Shard | None) -> PrefixOwner | None:
    """The owner of a shard's prefixes (None unsharded or for a single shard)."""
    if shard is None or shard.count == 1:
        return None
    return PrefixOwner(shard)


def shard_id(index: int, count: int) -> str:
    """The part of a collected item's id that names its shard: ``shard-1-of-4``."""
    return f"shard-{index}-of-{count}"


def unsharded_nodeid(nodeid: str, shard: Shard | None) -> str:
    """The node id of the test without its shard's parameter (the id a replay names)."""
    if shard is None:
        return nodeid
    part = shard_id(shard.index, shard.count)
    for before, after in ((f"[{part}]", ""), (f"-{part}]", "]"), (f"[{part}-", "[")):
        if before in nodeid:
            return nodeid.replace(before, after, 1)
    return nodeid.replace(f"-{part}-", "-", 1)
