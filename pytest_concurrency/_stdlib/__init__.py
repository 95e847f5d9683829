"""What the stand-ins for ``threading``, ``queue`` and ``time`` share, whoever installs them.

The explorer (:mod:`pytest_concurrency.world`) and the fake clock
(:mod:`pytest_concurrency._clock`) each replace the stdlib primitives with
their own stand-ins; both must accept and refuse exactly what the standard
library does, so the argument checks live here, once.
"""
