"""An attribute and the item of that name in the object's ``__dict__`` are one location.

``obj.x = 1``, ``setattr(obj, "x", 1)``, ``obj.__dict__["x"] = 1``,
``obj.__dict__.setdefault("x", 1)``, ``vars(obj).update(x=1)`` all write the
same memory, and ``obj.x``, ``getattr``, ``obj.__dict__.get("x")`` and
``"x" in vars(obj)`` all read it: the reduction must see every such pair as
conflicting, or it would run one order only and call the scenario proven.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import memory_subjects as subjects
import pytest

from pytest_concurrency.world.api import explore
from pytest_concurrency.world.report import InterleavingFailure


@pytest.mark.parametrize(
    ("writer", "reader"),
    list(itertools.product(subjects.ATTRIBUTE_WRITERS, subjects.ATTRIBUTE_READERS)),
)
def test_a_read_of_an_attribute_through_any_path_races_with_a_write_through_any(
    writer: str, reader: str
) -> None:
    scenario = subjects.attribute_read_before_write(
        subjects.ATTRIBUTE_WRITERS[writer], subjects.ATTRIBUTE_READERS[reader]
    )
    with pytest.raises(InterleavingFailure) as caught:
        explore(scenario, races="ignore")  # the default: dpor, memory granularity, no bound
    assert "before the write" in str(caught.value.__cause__)


def _through_dict_and_setattr(same: bool) -> Callable[[], None]:
    """One thread writes ``a`` through the dict; another ``b`` (or ``a``) with setattr."""

    def scenario() -> None:
        box = subjects.Plain()
        box.a = box.b = 0  # type: ignore[attr-defined]

        def write_a() -> None:
            box.__dict__["a"] = 1

        def write_other() -> None:
            if same:
                setattr(box, "a", 2)  # noqa: B010 (the builtin is what is tested)
            else:
                setattr(box, "b", 2)  # noqa: B010 (the builtin is what is tested)

        subjects.run_threads(write_a, write_other)

    return scenario


def test_writes_to_different_attributes_through_the_dict_still_commute() -> None:
    """Precision kept: an item of the dict meets only the attribute of its name."""
    apart = explore(_through_dict_and_setattr(same=False), races="ignore")
    assert apart.exhausted and apart.schedules_run == 1
    same = explore(_through_dict_and_setattr(same=True), races="ignore")
    assert same.exhausted and same.schedules_run == 2
