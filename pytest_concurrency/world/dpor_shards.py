"""The partial-order reduction of one shard: a top shared by all, a part of its own.

The unsharded reduction learns where to branch as it goes: a race found deep
in one subtree asks for a new branch at an ancestor. Split over processes,
the ancestor may be a node every shard walks through (the tree's top), and
the shard exploring the subtree is the only one to hear of the request. So
each shard here keeps to rules that every shard applies alike:

- Requests made by the first run through a prefix are seen by every shard (it
  is the same run everywhere: the owner's first run, the others' discovery
  run) and apply as usual.
- A request at a node of the prefix region made by a later run -- one only
  this shard ran -- is *adopted*: this shard explores that branch alone,
  after the branches every shard knows of, and counts it as its own. An
  adopted branch changes nothing every shard sees (the node's branches to
  try, its done siblings, the sleep sets below it), so the shards keep
  numbering the same prefixes alike, and no request is lost: whoever made it
  explores it. Two shards may adopt one branch: it is then explored twice,
  which costs runs and loses nothing.
- A node's weight for the split (its *width*, see :class:`~.shards.PrefixOwner`)
  is the number of threads the reduction tries there as its first run leaves
  it, fixed then, so every shard weighs it alike.

Trying every enabled thread at the top nodes instead (forced branching) would
make later requests there impossible, but was measured to cost 1.3 to 4 times
the unsplit runs; adoption costs only the runs two shards both adopt.

Below a prefix it owns a shard runs the plain reduction; through a prefix it
does not own it makes one discovery run.
"""

from __future__ import annotations

from pytest_concurrency.world.dpor import DPORStrategy, _Node
from pytest_concurrency.world.shards import PrefixOwner

__all__ = ["ShardedDPOR"]


class _Top:
    """What a shard keeps at a node (``_Node.shard``), decided after the run that made it."""

    __slots__ = ("adopted", "mass", "tried", "width")

    def __init__(self, mass: float) -> None:
        #: the estimated share of the tree below this node: 1 over the product of the widths
        #: of the nodes before it on the path (see .shards)
        self.mass = mass
        #: the threads tried here as the node's first run left it (see _settle)
        self.width = 1
        #: threads this shard alone tries here, and those of them already tried
        self.adopted: set[int] = set()
        self.tried: set[int] = set()


def _top(node: _Node) -> _Top:
    top = node.shard
    assert isinstance(top, _Top), "a node is settled before anything asks for its shard data"
    return top


class ShardedDPOR(DPORStrategy):
    """:class:`~.dpor.DPORStrategy` for one shard (see the module's text)."""

    def __init__(self, bound: int | None, owner: PrefixOwner) -> None:
        super().__init__(bound)
        self._owner = owner
        #: this run is the first through its prefix: every shard makes it, and its requests
        #: (whose owner is decided once it is over)
        self._first = True
        #: the node of the branch this shard adopted and is exploring below (-1: none)
        self._adopted_at = -1
        #: the alternative taken by this run is an adopted one
        self._took_adopted = False

    def begin_run(self) -> bool:
        self._took_adopted = False
        if not super().begin_run():
            return False
        target = self._target
        if target == -1:  # the first run of all
            self._first = True
            return True
        if self._adopted_at >= target:
            self._adopted_at = -1  # back at or above the adopted branch: out of it
        node = self._nodes[target]
        if self._took_adopted:
            node.done.discard(node.chosen)  # no sibling of another shard's sees it done
            _top(node).tried.add(node.chosen)
            if self._adopted_at == -1:
                self._adopted_at = target
            self._first = False
            self.discovering = False
        elif self._adopted_at == -1 and self._owner.shared(_top(node).mass):
            self._first = True  # a new prefix
        else:
            self._first = False
        return True

    def _alternative(self, node: _Node, depth: int) -> int | None:
        """The next branch every shard knows of; after those, the next adopted one."""
        alternative = super()._alternative(node, depth)
        if alternative is not None or node.shard is None:
            return alternative
        top = _top(node)
        for index in sorted(top.adopted - top.tried):
            if index in node.sleep or index not in node.enabled:
                continue
            if self._bound is not None and self._cost(depth, index) > self._bound:
                self.pruned = True
                top.tried.add(index)
                continue
            self._took_adopted = True
            return index
        return None

    def end_run(self, choice_count: int) -> None:
        runs, redundant = self.runs, self.redundant_runs
        super().end_run(choice_count)  # finds this run's races (a discovery run's too)
        self._settle()
        if self._first:
            self.discovering = not self._owner.enter()
        if self.discovering:  # a walk through another shard's prefix: not one of ours
            self.runs, self.redundant_runs = runs, redundant
            # forget the tree below the prefix, go on to the next prefix
            nodes, owner = self._nodes, self._owner
            below = next(
                (n for n, node in enumerate(nodes) if not owner.shared(_top(node).mass)), None
            )
            if below is not None:
                del nodes[below:]

    def _settle(self) -> None:
        """Weigh, once, each node this run made: the branches its first run asked for.

        A node's width is the number of threads the reduction will try there as
        this run leaves it (the one that ran, and those its races asked for,
        none asleep); branches asked for later do not change it, so every shard
        weighs the node alike.
        """
        parent: _Top | None = None
        for node in self._nodes:
            if node.shard is None:
                top = _Top(1.0 if parent is None else parent.mass / parent.width)
                top.width = max(
                    1,
                    sum(1 for t in node.backtrack if t in node.enabled and t not in node.sleep),
                )
                node.shard = top
            parent = node.shard

    def _reverse(self, i: int, j: int, clocks: list[list[int]]) -> None:
        node = self._nodes[i]
        top = node.shard
        shared = (
            not self._first
            and isinstance(top, _Top)
            and self._owner.shared(top.mass)
            and not (self._adopted_at != -1 and i > self._adopted_at)
        )
        if not shared:
            super()._reverse(i, j, clocks)
            return
        # a request only this shard's run made, at a node every shard walks through
        asked = set(node.backtrack)
        super()._reverse(i, j, clocks)
        added = node.backtrack - asked
        if added:
            node.backtrack.difference_update(added)
            _top(node).adopted.update(added)
