"""Which modules keep real time even in the test's own thread.

pytest runs the test body, its own bookkeeping and its plugins in one thread.
The fake clock is scoped by thread, so something else must keep pytest's
durations, pytest-timeout's deadlines and Hypothesis's health checks real: a
rule on the *calling module*. One rule, used by every part that needs it: the
captured-import scan (never patch these modules), the scoped time functions
(a call made directly from these modules gets real time), ``Thread.start``
(threads these modules start stay out of scope) and freezegun's ignore list.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from pytest_concurrency import _harness

#: top-level packages of the test harness (the one list: :mod:`pytest_concurrency._harness`)
HARNESS_PACKAGES = _harness.HARNESS_PACKAGES

#: parts of harness packages that are *users* of the clock: this package's demo
#: and benchmarks start threads and sleep exactly like a test would
CLOCK_USERS: tuple[str, ...] = ("pytest_concurrency.demo", "pytest_concurrency.bench")

#: standard-library modules that wait on other processes or the network: their
#: deadlines must stay real, or a driver-thread ``Popen.wait(timeout=...)``
#: would spin through virtual time
REAL_IO_STDLIB: frozenset[str] = frozenset(
    {
        "subprocess",
        "socketserver",
        "multiprocessing",
        "concurrent.futures.process",
        "telnetlib",
        "trace",
        "sched",
    }
)

#: standard-library modules whose captured ``from time import monotonic`` drives
#: the waits this clock virtualises (``threading._time``, ``queue.time``)
VIRTUAL_STDLIB: frozenset[str] = frozenset({"threading", "queue"})


def _prefixes(dotted: str) -> Iterable[str]:
    parts = dotted.split(".")
    for end in range(1, len(parts) + 1):
        yield ".".join(parts[:end])


class ModuleRules:
    """Classifies module names as "keeps real time" or not, with a cache.

    ``extra_real`` are the user's own additions (``FakeClock(real_modules=...)``),
    matched like the built-in names: a name matches itself and its submodules.
    """

    def __init__(self, extra_real: Iterable[str] = ()) -> None:
        self._extra = frozenset(extra_real)
        self._cache: dict[str, bool] = {}

    def keeps_real_time(self, module_name: str) -> bool:
        """True for harness modules, real-I/O stdlib modules and the user's extra names."""
        cached = self._cache.get(module_name)
        if cached is None:
            cached = self._classify(module_name)
            self._cache[module_name] = cached
        return cached

    def is_scannable(self, module_name: str) -> bool:
        """True when a module's captured time functions should follow the clock.

        Standard-library modules are left alone (their captured clocks time real
        I/O) except ``threading`` and ``queue``, whose captured ``monotonic``
        computes the remaining time of every timed wait.
        """
        if module_name in VIRTUAL_STDLIB:
            return True
        top = module_name.partition(".")[0]
        if top in sys.stdlib_module_names or module_name in ("__main__", "builtins"):
            return module_name == "__main__"
        return not self.keeps_real_time(module_name)

    def freezegun_ignore(self) -> list[str]:
        """Module prefixes for ``freezegun.freeze_time(ignore=...)``.

        freezegun matches with ``str.startswith``, so packages get a trailing
        dot where a bare prefix would also catch unrelated names (``pytest``
        would catch every ``pytest_*`` plugin of the user).
        """
        names = [name for name in HARNESS_PACKAGES if name != "pytest"]
        names.append("pytest.")
        names.extend(self._extra)
        return sorted(names)

    def _classify(self, module_name: str) -> bool:
        top = module_name.partition(".")[0]
        if top in HARNESS_PACKAGES:
            return not any(
                module_name == user or module_name.startswith(user + ".") for user in CLOCK_USERS
            )
        return any(
            prefix in REAL_IO_STDLIB or prefix in self._extra for prefix in _prefixes(module_name)
        )
