"""The fake clock's machinery, one idea per module.

:mod:`pytest_concurrency.fake_clock` is the public face; these modules are its
parts: who is in scope (``scope``), virtual time and the parked waiters
(``timeline``, ``waiter``; call sites come from :mod:`pytest_concurrency._callsite`),
the stand-ins installed while a clock runs
(``scoped``, ``locks``, ``simple_queue``, ``threading_patches``,
``asyncio_patches``), the modules that keep real time (``harness``), the scan
for captured ``from time import monotonic`` (``captured``) and the freezegun
bridge for ``datetime`` (``datetime_bridge``).
"""
