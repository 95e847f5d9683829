"""The real clock and threading methods are captured before any feature wraps them."""

from __future__ import annotations

import subprocess
import sys

# A fresh interpreter: which module is imported first is the whole point.
_LATE_IMPORT = """
import threading
from pytest_concurrency.leaks import LeakChecker

checker = LeakChecker("threads").start()   # wraps Thread.start while it runs
import pytest_concurrency.world.threads as world_threads   # first import, inside the check
import pytest_concurrency._clock.threading_patches as clock_threads
checker.finish()

assert world_threads._original_start is threading.Thread.start, world_threads._original_start
assert clock_threads._real_thread_start is threading.Thread.start
print("ok")
"""


def test_a_feature_imported_during_another_features_patch_still_gets_the_real_methods() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _LATE_IMPORT], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"
