"""The controlled world: real threads run one at a time, a scheduler picks who runs next.

Public entry points live in :mod:`pytest_concurrency.world.api` (``explore``,
``replay``, ``spawn``, ``checkpoint``) and :mod:`pytest_concurrency.world.report`
(the failures). This package is imported only when an exploration is used.
"""
