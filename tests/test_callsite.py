"""The shared rule for naming the user's line of code."""

from __future__ import annotations

import os
import queue
import sys
import threading

from pytest_concurrency import _callsite
from pytest_concurrency.demo import zoo


def test_harness_and_relays_are_internal_user_and_demo_code_is_not() -> None:
    assert _callsite.is_internal(_callsite.__file__)
    assert _callsite.is_internal(threading.__file__)
    assert _callsite.is_internal(queue.__file__)
    assert _callsite.is_internal("<frozen importlib._bootstrap>")
    assert not _callsite.is_internal(__file__)
    assert not _callsite.is_internal(zoo.__file__)  # the demo plays the user
    assert not _callsite.is_internal(os.__file__)  # stdlib, but not a relay


def _relay_compiled_as_harness_code() -> object:
    """A function whose frames count as the harness's, as a patched wait's would."""
    namespace: dict[str, object] = {"call_site": _callsite.call_site}
    code = compile("def relay():\n    return call_site(0)\n", _callsite.__file__, "exec")
    exec(code, namespace)
    return namespace["relay"]


def test_call_site_names_the_users_line_past_harness_frames() -> None:
    relay = _relay_compiled_as_harness_code()
    assert callable(relay)
    expected = f"test_callsite.py:{sys._getframe().f_lineno + 1}"
    site = relay()
    assert str(site).endswith(expected)


def test_user_frame_skips_internal_frames_and_stops_at_none() -> None:
    assert _callsite.user_frame(None) is None
    frame = sys._getframe()
    assert _callsite.user_frame(frame) is frame


def test_short_path_is_relative_inside_the_working_directory() -> None:
    inside = os.path.join(os.getcwd(), "pkg", "mod.py")
    assert _callsite.short_path(inside) == os.path.join("pkg", "mod.py")
    outside = os.path.join(os.path.dirname(os.getcwd()) or os.sep, "elsewhere-xyz", "mod.py")
    assert _callsite.short_path(outside) == outside
